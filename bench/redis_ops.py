"""Redis work per event: what the shared store (and the Redis broker) costs for each CRITICAL event
delivered, beside a bare Celery 2-link chain on the same Redis, in the same run. The figure
docs/scaling.md extrapolates from.

    python bench/redis_ops.py                  # 1,000 events, broker on Redis, then on RabbitMQ
    python bench/redis_ops.py --events 2000 --brokers redis

  baseline  a bare Celery chain (noop -> done) per event, on its own Redis: commands and Redis
            CPU per chain (the broker's work only)
  ours      CRITICAL events through ingress -> worker -> a local webhook -> final ack:
            commands, Redis CPU and memory kept (claims, logs: 48 h) per event, by command;
            with the broker on RabbitMQ, what remains is the store alone
Idle traffic (the scheduler's sweep, workers' polls, liveness beats) is measured for 5 s
before each run and subtracted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import UNLIMITED, Sink, baseline_worker, table  # noqa: E402
from client import NotifyClient, make_event  # noqa: E402
from sandbox import SandboxServer  # noqa: E402
from store import Store  # noqa: E402
from tests.faults.stack import Stack  # noqa: E402

IDLE_S = 5.0


def _read(store: Store) -> tuple[Counter[str], float, int]:
    calls, cpu, memory = store.command_stats()
    return Counter(calls), cpu, memory


def _measure(store: Store, work, count: int) -> tuple[Counter[str], float, float]:
    """Commands, CPU and memory kept per unit of `work`, idle traffic subtracted."""
    calls0, cpu0, _ = _read(store)
    time.sleep(IDLE_S)
    calls1, cpu1, memory1 = _read(store)
    idle_rate = {k: (calls1[k] - calls0[k]) / IDLE_S for k in calls1}
    idle_cpu = (cpu1 - cpu0) / IDLE_S
    start = time.monotonic()
    work()
    took = time.monotonic() - start
    calls2, cpu2, memory2 = _read(store)
    per = Counter(
        {k: max(0.0, (calls2[k] - calls1[k] - idle_rate.get(k, 0) * took)) / count for k in calls2}
    )
    per = Counter({k: v for k, v in per.items() if v >= 0.01 and k not in ("info", "ping")})
    cpu = max(0.0, (cpu2 - cpu1 - idle_cpu * took)) / count
    return per, cpu, (memory2 - memory1) / count


def _baseline(stack: Stack, root: Path, count: int) -> tuple[Counter[str], float, float]:
    import os

    from celery import chain

    os.environ["BENCH_BROKER_URL"] = stack.redis_url
    from bench import baseline_tasks

    baseline_tasks.use_broker(stack.redis_url)
    worker = baseline_worker(stack.redis_url, 2, "prefork", root / "baseline.log")
    app = baseline_tasks.app
    store = Store(stack.redis_url, "bench:")

    def work() -> None:
        baseline_tasks.clear_done()
        for n in range(count):
            chain(
                app.signature("bench.noop", args=(f"b{n}",)), app.signature("bench.done")
            ).apply_async()
        baseline_tasks.done_times(count, 300)

    try:
        return _measure(store, work, count)
    finally:
        Stack.kill(worker)


def _ours(stack: Stack, sink: Sink, count: int) -> tuple[Counter[str], float, float]:
    store = Store(stack.redis_url, stack.env["NOTIFY_KEY_PREFIX"])
    users = [f"ops-{uuid.uuid4().hex[:6]}" for _ in range(50)]
    for user in users:
        store.directory.update(user, discord_webhook=f"{sink.url}/discord/{user}")
    payload = {"symbol": "BTC/USDT", "side": "buy", "fill_quantity": "0.5", "fill_price": "50000"}

    def batch(n: int) -> list:
        return [make_event(users[i % 50], "ORDER_FILLED", "CRITICAL", ["DISCORD"], payload)
                for i in range(n)]  # fmt: skip

    with NotifyClient(stack.router(), identity=b"redis-ops", resend_first_s=30.0) as client:
        for delivery in [client.send(e) for e in batch(50)]:  # warm up
            delivery.result(60)

        def work() -> None:
            deliveries = [client.send(e) for e in batch(count)]
            for delivery in deliveries:
                delivery.result(300)

        return _measure(store, work, count)


def run(broker: str, count: int, sink: Sink, root: Path) -> tuple[Counter[str], float, float]:
    from tests.brokers import amqp_vhost

    with SandboxServer(port=0) as sandbox:
        vhost = amqp_vhost() if broker == "amqp" else None
        broker_url = vhost.__enter__() if vhost else None
        stack = Stack(root / broker, sandbox.url, {**UNLIMITED}, broker_url=broker_url)
        (root / broker).mkdir(exist_ok=True)
        try:
            stack.start(workers=1)
            return _ours(stack, sink, count)
        finally:
            stack.close()
            if vhost:
                vhost.__exit__(None, None, None)


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--brokers", default="redis,amqp", help="comma-separated: redis, amqp")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="notify-redis-ops-"))
    sink = Sink()
    results: dict[str, tuple[Counter[str], float, float]] = {}
    try:
        with SandboxServer(port=0) as sandbox:
            base = Stack(root / "baseline", sandbox.url)
            (root / "baseline").mkdir()
            try:
                base.start_redis()
                results["baseline: bare Celery 2-link chain"] = _baseline(base, root, args.events)
            finally:
                base.close()
        for broker in args.brokers.split(","):
            label = (
                "ours, broker on Redis"
                if broker == "redis"
                else "ours, broker on RabbitMQ (store only)"
            )
            results[label] = run(broker, args.events, sink, root)
            print(f"{label}: done", flush=True)
    finally:
        sink.close()
    rows = []
    for label, (per, cpu, kept) in results.items():
        top = ", ".join(f"{k} {v:.1f}" for k, v in per.most_common(6))
        ceiling = f"{1 / cpu:,.0f}" if cpu > 0 else "-"
        rows.append(
            [label, f"{sum(per.values()):.1f}", f"{cpu * 1e6:.0f}", ceiling, f"{kept:,.0f}", top]
        )
    print()
    print(table(
        f"Redis work per event: {args.events} events per run; logs in {root}",
        ["", "commands/event", "Redis CPU us/event", "events/s per Redis core", "bytes kept/event", "top commands per event"],
        rows,
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
