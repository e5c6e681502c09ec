"""Ingress memory and CPU: RSS over 1,000,000 mixed events (it must stay flat: nothing kept per
event), and CPU per event for each priority, beside the bare forwarder (bench/forwarder.py)
given the same INFORMATIONAL events in the same run.

    python bench/memory.py                     # 1,000,000 mixed events
    python bench/memory.py --events 200000 --sample 20000

Mixed: 90 % INFORMATIONAL, 8 % NORMAL (nobody listening: queued), 2 % CRITICAL, over 1,000
users, from 8 DEALERs that read their acks and never resend. No worker runs (the chains wait in
Redis): what is measured is the ingress process. Rate limits are lifted for the run.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zmq  # noqa: E402

from bench.common import UNLIMITED, forwarder, group_cpu_s, table  # noqa: E402
from client import make_event  # noqa: E402
from proto import encode_event  # noqa: E402
from settings import connect_address  # noqa: E402
from tests.faults.stack import Stack  # noqa: E402

USERS = [f"mem-user-{n:04d}" for n in range(1000)]
DEALERS = 8
PAYLOAD = {"symbol": "ETH/USDT", "text": "indicator crossed", "value": "3120.5"}
CHANNELS = {"NORMAL": [("DISCORD", False)], "CRITICAL": [("DISCORD", False), ("EMAIL", False)]}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _priority(n: int) -> str:
    slot = n % 50
    return "CRITICAL" if slot == 0 else "NORMAL" if slot <= 4 else "INFORMATIONAL"


def _frame(n: int, priority: str, tag: str) -> bytes:
    event = make_event(
        USERS[n % len(USERS)], "STRATEGY_LOG", priority, CHANNELS.get(priority, ()),
        PAYLOAD, event_id=f"{tag}-{n}",
    )  # fmt: skip
    return encode_event(event)


class Senders:
    """8 DEALERs; sends block at the HWM (the ingress's pace), acks are read and counted."""

    def __init__(self, address: str) -> None:
        self.context = zmq.Context()
        self.dealers = []
        for n in range(DEALERS):
            dealer = self.context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.IDENTITY, f"mem-dealer-{n}-{time.time_ns()}".encode())
            dealer.connect(address)
            self.dealers.append(dealer)
        self.acks = 0
        time.sleep(0.5)

    def send(self, n: int, frame: bytes) -> None:
        self.dealers[n % DEALERS].send(frame)
        if n % 256 == 0:
            self.read_acks()

    def read_acks(self) -> None:
        for dealer in self.dealers:
            while True:
                try:
                    dealer.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self.acks += 1

    def settle(self, expected_acks: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acks < expected_acks and time.monotonic() < deadline:
            self.read_acks()
            time.sleep(0.01)

    def close(self) -> None:
        self.context.destroy(linger=0)


def _cpu_per_event(senders: Senders, pid: int, priority: str, count: int) -> float:
    frames = [_frame(n, priority, f"cpu-{priority}") for n in range(count)]
    acks_before = senders.acks
    cpu0 = group_cpu_s(pid)
    for n, frame in enumerate(frames):
        senders.send(n, frame)
    expected = 0 if priority == "INFORMATIONAL" else count
    senders.settle(acks_before + expected, 300)
    time.sleep(1.0 if priority == "INFORMATIONAL" else 0.2)  # the last frames are handled
    return (group_cpu_s(pid) - cpu0) / count * 1e6


def _forwarder_cpu(root: Path, count: int) -> float:
    with forwarder(root) as (router, _, pid):
        senders = Senders(router)
        try:
            return _cpu_per_event(senders, pid, "INFORMATIONAL", count)
        finally:
            senders.close()


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="mixed events for the RSS curve"
    )
    parser.add_argument("--sample", type=int, default=100_000, help="RSS is read every this many")
    parser.add_argument(
        "--cpu-events", type=int, default=20_000, help="events per priority for CPU"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="notify-memory-"))
    forwarder_us = _forwarder_cpu(root, args.cpu_events * 5)
    stack = Stack(root, "http://127.0.0.1:9", UNLIMITED)
    curve: list[list[str]] = []
    try:
        stack.start_redis()
        ingress = stack.start_ingress()
        pid = ingress.pid
        senders = Senders(connect_address(stack.env["NOTIFY_INGRESS_ROUTER"]))
        cpu = {
            "INFORMATIONAL": _cpu_per_event(senders, pid, "INFORMATIONAL", args.cpu_events * 5),
            "NORMAL": _cpu_per_event(senders, pid, "NORMAL", args.cpu_events),
            "CRITICAL": _cpu_per_event(senders, pid, "CRITICAL", args.cpu_events),
        }
        start_rss = _rss_mib(pid)
        curve.append(["0", f"{start_rss:.1f}", "-"])
        begin = time.monotonic()
        acks_before, owed = senders.acks, 0
        for n in range(args.events):
            priority = _priority(n)
            senders.send(n, _frame(n, priority, "mix"))
            owed += priority != "INFORMATIONAL"
            if (n + 1) % args.sample == 0:
                senders.settle(acks_before + owed, 300)  # handled, not only sent
                rss = _rss_mib(pid)
                curve.append([f"{n + 1:,}", f"{rss:.1f}", f"{time.monotonic() - begin:.0f}"])
                print(f"{n + 1:,} events: ingress RSS {rss:.1f} MiB", flush=True)
        queued = owed
        senders.settle(acks_before + owed, 300)
        senders.close()
        end_rss = _rss_mib(pid)
    finally:
        stack.close()
    print()
    print(table(
        f"ingress RSS over {args.events:,} mixed events ({queued:,} queued); logs in {root}",
        ["events sent", "RSS MiB", "s"],
        curve,
    ))  # fmt: skip
    growth = (end_rss - start_rss) / (args.events / 1e6)
    print(
        f"\nRSS growth: {end_rss - start_rss:+.1f} MiB over {args.events:,} events ({growth:+.1f} MiB per million)"
    )
    print()
    rows = [["forwarder (baseline)", "INFORMATIONAL", f"{forwarder_us:.1f}", "1.00x"]]
    rows += [["ingress", p, f"{us:.1f}", f"{us / forwarder_us:.2f}x"] for p, us in cpu.items()]
    print(table("CPU per event", ["process", "priority", "CPU us/event", "vs forwarder"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
