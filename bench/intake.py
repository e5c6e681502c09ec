"""Intake: bursts of CRITICAL events until each has its QUEUED ack, beside bare `apply_async` of a
no-op task from one thread on the same Redis, in the same run.

    python bench/intake.py                     # bursts of 2,000 from 4 containers, then 500/s
    python bench/intake.py --events 10000 --rate 500 --paced-s 10

  baseline  bare `apply_async` of a no-op task (bench/baseline_tasks.py), one thread: events/s of
            a burst, and the time each call takes at --rate/s (p50, p99)
  ours      4 containers (client.NotifyClient: one thread each, resend until final) -> ingress
            -> claim + chain published -> QUEUED: events/s from the first send to the last QUEUED ack, and send -> QUEUED
            at --rate/s (p50, p99)
No worker runs: what is measured is the way in. Rate limits are lifted for the run.
Goals: ours >= 2x the bare apply_async rate; QUEUED p99 < 20 ms at 500/s.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import UNLIMITED, group_cpu_s, percentile, table  # noqa: E402
from client import make_event  # noqa: E402
from settings import connect_address  # noqa: E402
from tests.faults.stack import Containers, Stack  # noqa: E402

PAYLOAD = {"symbol": "BTC/USDT", "side": "sell", "reason": "margin below maintenance"}


def _baseline(broker_url: str, args) -> dict[str, float]:
    os.environ["BENCH_BROKER_URL"] = broker_url
    from bench import baseline_tasks

    baseline_tasks.use_broker(broker_url)

    noop = baseline_tasks.app.signature("bench.noop")
    for n in range(200):  # warm up: connection, producer pool
        noop.clone(args=(f"warm-{n}",)).apply_async()
    start = time.perf_counter()
    for n in range(args.events):
        noop.clone(args=(f"burst-{n}",)).apply_async()
    rate = args.events / (time.perf_counter() - start)
    took: list[float] = []
    begin = time.perf_counter()
    for n in range(int(args.rate * args.paced_s)):
        due = begin + n / args.rate
        if (delay := due - time.perf_counter()) > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        noop.clone(args=(f"paced-{n}",)).apply_async()
        took.append((time.perf_counter() - t0) * 1000)
    return {"events_s": rate, "p50": percentile(took, 50), "p99": percentile(took, 99), "cpu": 0.0}


def _ours(stack: Stack, args) -> dict[str, float]:
    ingress = stack.start_ingress()
    users = [f"intake-{uuid.uuid4().hex[:6]}" for _ in range(100)]

    def events(count: int) -> list:
        return [
            make_event(users[n % len(users)], "POSITION_LIQUIDATED", "CRITICAL",
                       [("DISCORD", False), ("EMAIL", False)], PAYLOAD)
            for n in range(count)
        ]  # fmt: skip

    address = connect_address(stack.env["NOTIFY_INGRESS_ROUTER"])
    containers = Containers(address, count=4, resend_first_s=30.0)
    warm = events(200)
    containers.send(warm)
    _pump_until_queued(containers, warm, 60)
    burst = events(args.events)
    cpu0 = group_cpu_s(ingress.pid)
    start = time.monotonic()
    containers.send(burst)
    _pump_until_queued(containers, burst, 120)
    queued = [containers.events[e.event_id].queued_at for e in burst]
    done = [at for at in queued if at]
    rate = len(done) / (max(done) - start) if done else 0.0
    cpu_us = (group_cpu_s(ingress.pid) - cpu0) / args.events * 1e6
    paced = events(int(args.rate * args.paced_s))
    begin = time.monotonic()
    for n, event in enumerate(paced):
        due = begin + n / args.rate
        while (delay := due - time.monotonic()) > 0:
            containers.wait(min(delay, 0.001))
        containers.send([event])
    _pump_until_queued(containers, paced, 60)
    latencies = [
        (s.queued_at - s.sent_at) * 1000
        for s in (containers.events[e.event_id] for e in paced)
        if s.queued_at
    ]
    containers.close()
    missing = args.events - len(done) + len(paced) - len(latencies)
    if missing:
        print(f"ours: {missing} events had no QUEUED ack", file=sys.stderr)
    return {
        "events_s": rate,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "cpu": cpu_us,
    }


def _pump_until_queued(containers: Containers, events: list, timeout_s: float) -> None:
    sent = [containers.events[e.event_id] for e in events]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(s.queued_at or s.final for s in sent):
        containers.wait(0.005)


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000, help="events in the burst")
    parser.add_argument("--rate", type=float, default=500, help="events/s of the paced phase")
    parser.add_argument("--paced-s", type=float, default=10.0, help="length of the paced phase")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="notify-intake-"))
    stack = Stack(root, "http://127.0.0.1:9", UNLIMITED)
    try:
        stack.start_redis()
        base = _baseline(stack.redis_url, args)
        print(f"baseline: {base['events_s']:.0f} events/s", flush=True)
        ours = _ours(stack, args)
        print(f"ours: {ours['events_s']:.0f} events/s", flush=True)
    finally:
        stack.close()
    rows = [
        ["baseline: bare apply_async, 1 thread", f"{base['events_s']:.0f}", "-",
         f"{base['p50']:.2f}", f"{base['p99']:.2f}"],
        ["ours: container -> QUEUED ack", f"{ours['events_s']:.0f}", f"{ours['cpu']:.0f}",
         f"{ours['p50']:.2f}", f"{ours['p99']:.2f}"],
    ]  # fmt: skip
    print()
    print(table(
        f"intake: bursts of {args.events} CRITICAL events; paced {args.rate:g}/s for {args.paced_s:g} s; logs in {root}",
        ["", "events/s", "ingress CPU us/event", f"p50 ms @{args.rate:g}/s", f"p99 ms @{args.rate:g}/s"],
        rows,
    ))  # fmt: skip
    print(f"\nours / bare apply_async  {ours['events_s'] / base['events_s']:.2f}x  (goal >= 2)")
    print(f"QUEUED p99 @{args.rate:g}/s      {ours['p99']:.1f} ms  (goal < 20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
