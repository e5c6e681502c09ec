"""The guaranteed path: CRITICAL events end to end against a zero-latency webhook, beside a bare
Celery chain and a plain Apprise task, on the same Redis with the same worker flags.

    python bench/guaranteed.py                       # 2,000 events, 1 worker of concurrency 2
    python bench/guaranteed.py --events 500 --workers 2 --concurrency 4 --pool threads

Three phases, one after the other, on one Redis of the run's own:

  baseline  a bare 2-link Celery chain of no-ops whose last link signals back (RPUSH)
  peer      what a Python team would build instead: one plain Celery task per notification that
            posts the webhook with Apprise (`json://`), then signals back; no acks, no
            escalation, no dedup
  ours      container -> ingress -> chain -> webhook -> EventAck DELIVERED, from containers
            that resend until final (tests/faults/stack.py)

Each phase: throughput at saturation (N sent at once: N / time until the last is done), then
latency at 100 events/s (p50, p99 from send to done, 20 s). Goals: ours >= 0.6x the baseline's
throughput and p50 <= 2x its latency; ours >= 0.9x the peer's throughput.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.common import (  # noqa: E402
    UNLIMITED,
    Sink,
    baseline_worker,
    group_cpu_s,
    percentile,
    table,
)
from client import make_event  # noqa: E402
from sandbox import SandboxServer  # noqa: E402
from settings import connect_address  # noqa: E402
from store import Store  # noqa: E402
from tests.faults.stack import Containers, Stack  # noqa: E402

RATE = 100.0


def _celery_phase(
    kind: str, broker_url: str, sink: Sink, count: int, workers: int, args, root: Path
):
    """Throughput and latencies of the baseline or the peer."""
    import os

    os.environ["BENCH_BROKER_URL"] = broker_url
    from celery import chain

    from bench import baseline_tasks

    baseline_tasks.use_broker(broker_url)

    procs = [
        baseline_worker(broker_url, args.concurrency, args.pool, root / f"{kind}{n}.log")
        for n in range(workers)
    ]
    app = baseline_tasks.app

    def send(event_id: str) -> None:
        if kind == "baseline":
            chain(
                app.signature("bench.noop", args=(event_id,)), app.signature("bench.done")
            ).apply_async()
        else:
            app.signature(
                "bench.apprise_post",
                args=(
                    event_id,
                    f"json://127.0.0.1:{sink.port}/hook",
                    "Order filled",
                    "BUY 0.5 BTC/USDT",
                ),
            ).apply_async()

    try:
        baseline_tasks.clear_done()
        for n in range(50):  # warm up
            send(f"warm-{n}")
        baseline_tasks.done_times(50, 60)
        ids = [f"{kind}-{uuid.uuid4().hex[:10]}" for _ in range(count)]
        cpu0 = group_cpu_s(*(p.pid for p in procs))
        start = time.time()
        for event_id in ids:
            send(event_id)
        done = baseline_tasks.done_times(count, 300)
        throughput = len(done) / (max(done.values()) - start) if done else 0.0
        cpu_us = (group_cpu_s(*(p.pid for p in procs)) - cpu0) / count * 1e6
        sent: dict[str, float] = {}
        begin = time.time()
        n = 0
        while time.time() - begin < args.latency_s:
            due = begin + n / RATE
            if time.time() < due:
                time.sleep(due - time.time())
            event_id = f"{kind}-lat-{n}"
            sent[event_id] = time.time()
            send(event_id)
            n += 1
        latencies = baseline_tasks.done_times(len(sent), 60)
        lat = [(latencies[e] - sent[e]) * 1000 for e in sent if e in latencies]
        return throughput, lat, len(done), cpu_us
    finally:
        for proc in procs:
            Stack.kill(proc)


def _ours_phase(stack: Stack, sink: Sink, count: int, args) -> tuple[float, list[float], int]:
    store = Store(stack.redis_url, stack.env["NOTIFY_KEY_PREFIX"])
    for number in range(1, args.workers + 1):
        stack.start_worker(number, args.concurrency, args.pool)
    stack.start_ingress()
    stack.start_scheduler()
    users = [f"bench-{uuid.uuid4().hex[:6]}" for _ in range(50)]
    for user in users:
        store.directory.update(user, discord_webhook=f"{sink.url}/discord/{user}")
    payload = {"symbol": "BTC/USDT", "side": "buy", "fill_quantity": "0.5", "fill_price": "50000"}

    def events(n: int) -> list:
        return [
            make_event(users[i % 50], "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], payload)
            for i in range(n)
        ]

    address = connect_address(stack.env["NOTIFY_INGRESS_ROUTER"])
    warm = Containers(address, count=4)
    warm.send(events(50))
    warm.run_until_final(60)
    warm.close()
    saturate = Containers(address, count=4, resend_first_s=5.0)
    workers = [w.pid for w in stack.workers.values()]
    cpu0 = group_cpu_s(*workers)
    start = time.monotonic()
    saturate.send(events(count))
    end = saturate.run_until_final(300)
    delivered = saturate.counts().get("DELIVERED", 0)
    throughput = delivered / (end - start)
    cpu_us = (group_cpu_s(*workers) - cpu0) / count * 1e6
    saturate.close()
    paced = Containers(address, count=4, resend_first_s=5.0)
    batch = events(int(RATE * args.latency_s))
    begin = time.monotonic()
    for n, event in enumerate(batch):
        due = begin + n / RATE
        while time.monotonic() < due:
            paced.wait(min(0.005, due - time.monotonic()))
        paced.send([event])
    paced.run_until_final(60)
    lat = [(s.final_at - s.sent_at) * 1000 for s in paced.events.values() if s.final_at]
    paced.close()
    return throughput, lat, delivered, cpu_us


def run(args) -> None:
    root = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    sink = Sink()
    with SandboxServer(port=0) as sandbox:
        stack = Stack(root, sandbox.url, {"NOTIFY_METRICS_PORT": "0", **UNLIMITED})
        try:
            stack.start_redis()
            results = {}
            for kind in ("baseline", "peer"):
                results[kind] = _celery_phase(
                    kind, stack.redis_url, sink, args.events, args.workers, args, root
                )
                print(f"{kind}: {results[kind][0]:.0f} events/s", flush=True)
            results["ours"] = _ours_phase(stack, sink, args.events, args)
            print(f"ours: {results['ours'][0]:.0f} events/s", flush=True)
        finally:
            stack.close()
            sink.close()
    base, peer, ours = results["baseline"], results["peer"], results["ours"]
    rows = []
    for name, (throughput, lat, done, cpu_us) in (
        ("baseline: bare 2-link chain", base),
        ("peer: Celery task + Apprise", peer),
        ("ours: CRITICAL end to end", ours),
    ):
        rows.append(
            [
                name,
                f"{done}",
                f"{throughput:.0f}",
                f"{cpu_us:.0f}",
                f"{percentile(lat, 50):.1f}",
                f"{percentile(lat, 99):.1f}",
            ]
        )
    print()
    print(table(
        f"guaranteed path: {args.events} events, {args.workers} worker(s) x {args.concurrency} ({args.pool}); logs in {root}",
        ["", "done", "events/s", "worker CPU us/event", "p50 ms @100/s", "p99 ms @100/s"],
        rows,
    ))  # fmt: skip
    ratio_base = ours[0] / base[0] if base[0] else 0.0
    ratio_peer = ours[0] / peer[0] if peer[0] else 0.0
    p50_ratio = percentile(ours[1], 50) / percentile(base[1], 50)
    print(f"\nours / baseline throughput  {ratio_base:.2f}x  (goal >= 0.6)")
    print(f"ours / baseline p50         {p50_ratio:.2f}x  (goal <= 2)")
    print(f"ours / peer throughput      {ratio_peer:.2f}x  (goal >= 0.9)")


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (Celery workers)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size of each worker")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    parser.add_argument(
        "--latency-s", type=float, default=20.0, help="length of the 100/s latency phase"
    )
    run(parser.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
