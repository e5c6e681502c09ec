"""The fast path: INFORMATIONAL events from 8 DEALERs through the ingress to 4 SUBs subscribed to
half of 200 users, beside a bare pyzmq forwarder (bench/forwarder.py) in the same run.

    python bench/fastpath.py                   # 100,000 events at saturation, 5 s at 20,000/s
    python bench/fastpath.py --events 200000 --rate 20000 --paced-s 10

For each of the two (forwarder, ingress), in its own process on fresh ports:
  saturation  all events sent as fast as the DEALERs take them: events/s from the first send to
              the last delivery, and the process's CPU (user + system) per event
  paced       --rate events/s for --paced-s seconds: latency from send to SUB, p50 and p99
Half the events are for subscribed users (delivered), half for users nobody listens to (XPUB
drops them): both halves count as events the process handled.
Goals: ingress >= 0.8x the forwarder's throughput, <= 22 us CPU per event, p99 <= 1.5x.
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zmq  # noqa: E402

from bench.common import forwarder, group_cpu_s, percentile, table  # noqa: E402
from client import make_event  # noqa: E402
from proto import UserEvent, encode_event  # noqa: E402
from settings import connect_address  # noqa: E402
from tests.faults.stack import Stack  # noqa: E402

USERS = [f"fp-user-{n:03d}" for n in range(200)]
#: Users 0..99 are listened to, 25 per SUB.
SUBSCRIBED = USERS[:100]
DEALERS = 8
SUBS = 4
PAYLOAD = {"symbol": "BTC/USDT", "text": "strategy heartbeat", "pnl": "12.5"}


def _frames(count: int, tag: str) -> list[bytes]:
    return [
        encode_event(
            make_event(
                USERS[n % len(USERS)], "STRATEGY_LOG", "INFORMATIONAL",
                payload=PAYLOAD, event_id=f"{tag}{n}",
            )
        )
        for n in range(count)
    ]  # fmt: skip


def _receive(xpub: str, ready, results, idle_s: float) -> None:
    """4 SUBs; records (sequence number, receive time) until no message came for idle_s."""
    context = zmq.Context()
    subs = []
    poller = zmq.Poller()
    for n in range(SUBS):
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.connect(xpub)
        for user in SUBSCRIBED[n::SUBS]:
            sub.setsockopt(zmq.SUBSCRIBE, user.encode() + b"\0")
        poller.register(sub, zmq.POLLIN)
        subs.append(sub)
    time.sleep(1.0)  # subscriptions reach the XPUB
    ready.set()
    got: list[tuple[str, float]] = []
    last = time.monotonic()
    started = False
    while True:
        events = poller.poll(100)
        now = time.monotonic()
        if not events:
            if started and now - last > idle_s:
                break
            if not started and now - last > 60:
                break
            continue
        for sock, _ in events:
            while True:
                try:
                    _, frame = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got.append((UserEvent.FromString(frame[1:]).event_id, time.monotonic()))
        started, last = True, time.monotonic()
    results.put(got)
    context.destroy(linger=0)


def _send(router: str, frames: list[bytes], rate: float | None) -> dict[str, float]:
    """From 8 DEALERs, round robin; paced at `rate`/s in 1 ms slices, or as fast as they go."""
    context = zmq.Context()
    dealers = []
    for n in range(DEALERS):
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.IDENTITY, f"fp-dealer-{n}".encode())
        dealer.setsockopt(zmq.LINGER, 5000)
        dealer.connect(router)
        dealers.append(dealer)
    time.sleep(0.5)
    sent_at: dict[str, float] = {}
    begin = time.monotonic()
    per_slice = max(1, int((rate or 0) / 1000))
    for n, frame in enumerate(frames):
        if rate and n % per_slice == 0:
            due = begin + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent_at[f"{n}"] = time.monotonic()
        dealers[n % DEALERS].send(frame)
    for dealer in dealers:
        dealer.close()
    context.term()
    return sent_at


def _phase(router: str, xpub: str, pid: int, frames: list[bytes], tag: str, rate: float | None):
    ready, results = multiprocessing.Event(), multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_receive, args=(xpub, ready, results, 2.0))
    receiver.start()
    ready.wait(30)
    cpu0 = group_cpu_s(pid)
    sent = _send(router, frames, rate)
    got = results.get(timeout=600)
    receiver.join(30)
    cpu = group_cpu_s(pid) - cpu0
    first = min(sent.values())
    received = {event_id[len(tag) :]: at for event_id, at in got}
    last = max(received.values()) if received else first
    latencies = [(at - sent[n]) * 1000 for n, at in received.items() if n in sent]
    return {
        "events_s": len(frames) / (last - first),
        "delivered": len(received),
        "cpu_us": cpu / len(frames) * 1e6,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


def _measure(router: str, xpub: str, pid: int, args, name: str) -> dict[str, float]:
    _phase(router, xpub, pid, _frames(2000, f"{name}w-"), f"{name}w-", None)  # warm up
    saturated = _phase(router, xpub, pid, _frames(args.events, f"{name}s-"), f"{name}s-", None)
    count = int(args.rate * args.paced_s)
    paced = _phase(router, xpub, pid, _frames(count, f"{name}p-"), f"{name}p-", args.rate)
    return {**saturated, "p50": paced["p50"], "p99": paced["p99"], "paced": paced["delivered"]}


def _forwarder(root: Path, args) -> dict[str, float]:
    with forwarder(root) as (router, xpub, pid):
        return _measure(router, xpub, pid, args, "f")


def _ingress(root: Path, args) -> dict[str, float]:
    stack = Stack(root, "http://127.0.0.1:9")
    try:
        stack.start_redis()
        ingress = stack.start_ingress()
        router = connect_address(stack.env["NOTIFY_INGRESS_ROUTER"])
        xpub = connect_address(stack.env["NOTIFY_INGRESS_XPUB"])
        return _measure(router, xpub, ingress.pid, args, "i")
    finally:
        stack.close()


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000, help="events at saturation")
    parser.add_argument("--rate", type=float, default=20_000, help="events/s of the paced phase")
    parser.add_argument("--paced-s", type=float, default=5.0, help="length of the paced phase")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="notify-fastpath-"))
    base = _forwarder(root, args)
    print(f"forwarder: {base['events_s']:.0f} events/s", flush=True)
    ours = _ingress(root, args)
    print(f"ingress: {ours['events_s']:.0f} events/s", flush=True)
    rows = [
        [name, f"{r['events_s']:.0f}", f"{r['delivered']}", f"{r['cpu_us']:.1f}",
         f"{r['p50']:.2f}", f"{r['p99']:.2f}"]
        for name, r in (("baseline: bare forwarder", base), ("ours: ingress", ours))
    ]  # fmt: skip
    print()
    print(table(
        f"fast path: {args.events} INFORMATIONAL events, {DEALERS} DEALERs -> {SUBS} SUBs "
        f"(half of {len(USERS)} users); paced {args.rate:.0f}/s for {args.paced_s:g} s; logs in {root}",
        ["", "events/s", "delivered", "CPU us/event", "p50 ms", "p99 ms"],
        rows,
    ))  # fmt: skip
    print(
        f"\ningress / forwarder throughput  {ours['events_s'] / base['events_s']:.2f}x  (goal >= 0.8)"
    )
    print(
        f"ingress CPU per event           {ours['cpu_us']:.1f} us  (goal <= 22; forwarder {base['cpu_us']:.1f})"
    )
    print(f"ingress / forwarder p99         {ours['p99'] / base['p99']:.2f}x  (goal <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
