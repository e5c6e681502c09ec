"""Fuzz a running ingress: 100,000 hostile frames, valid events interleaved, hostile peers.

    python bench/fuzz.py                  # 100,000 frames
    python bench/fuzz.py --frames 20000

A stack of real processes (tests/faults/stack.py: Redis of its own, ingress, a worker, the
scheduler, every provider at a sandbox) with a CURVE server key. A platform-service key sends
the frames (tests/fuzzing.py: random bytes, valid events mutated byte by byte, huge and deeply
nested fields, invalid UTF-8, every enum out of range, acks from a container) from 4 peers, and
one valid CRITICAL event every 100 frames; meanwhile peers without a registered key and with a
subscriber key (which may not send) try too. It prints: frames sent, the ACK_ERRORs owed (to
invalid frames with a usable event id) and how many arrived, valid events delivered, whether the
ingress lived, and its resident memory (RSS) every 10 % of the run. Exit status 0 when every
owed ACK_ERROR arrived, every valid event was delivered, the ingress lived and its RSS grew by
less than 20 MiB from the first tenth to the end.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client import CurveKeys, Dealer  # noqa: E402
from proto import AckStatus  # noqa: E402
from sandbox import SandboxServer  # noqa: E402
from settings import connect_address  # noqa: E402
from store import Role, Store  # noqa: E402
from tests.faults.stack import Stack  # noqa: E402
from tests.fuzzing import hostile_frames, valid_event  # noqa: E402

PEERS = 4


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peer(address: str, server_public: str, pair: tuple[str, str] | None) -> Dealer:
    if pair is None:
        pair = tuple(k.decode() for k in zmq.curve_keypair())  # type: ignore[assignment]
    curve = CurveKeys(server_public, pair[0], pair[1])
    return Dealer(address, identity=f"fz-{uuid.uuid4().hex[:8]}".encode(), curve=curve)


def run(count: int) -> bool:
    root = Path(tempfile.mkdtemp(prefix="notify-fuzz-"))
    server_public, server_secret = (k.decode() for k in zmq.curve_keypair())
    with SandboxServer(port=0) as sandbox:
        stack = Stack(root, sandbox.url, {"NOTIFY_CURVE_SERVER_SECRET": server_secret})
        try:
            stack.start_redis()
            store = Store(stack.redis_url, stack.env["NOTIFY_KEY_PREFIX"])
            service = tuple(k.decode() for k in zmq.curve_keypair())
            store.keyring.add(service[0], Role.SERVICE, "fuzzer")
            subscriber = tuple(k.decode() for k in zmq.curve_keypair())
            store.keyring.add(subscriber[0], Role.SUBSCRIBER, "dashboard")
            stack.start_worker(1)
            stack.start_ingress()
            stack.start_scheduler()
            users = [f"fuzz-{uuid.uuid4().hex[:6]}" for _ in range(8)]
            for user in users:
                store.directory.update(
                    user, discord_webhook=f"{sandbox.url}/discord/api/webhooks/5/{user}"
                )
            address = connect_address(stack.env["NOTIFY_INGRESS_ROUTER"])
            peers = [_peer(address, server_public, service) for _ in range(PEERS)]
            strangers = [
                _peer(address, server_public, None),
                _peer(address, server_public, subscriber),
            ]
            hostile = hostile_frames(seed=2026, count=count)
            owed = {h.owed_error for h in hostile if h.owed_error}
            valid = [valid_event(users[n % len(users)]) for n in range(count // 100 + 1)]
            answered: dict[str, int] = {}
            rss: list[tuple[int, float]] = []
            pid = stack.ingress.pid
            stranger_sends = 0

            def drain() -> None:
                for peer in peers:
                    while (ack := peer.recv_ack(0)) is not None:
                        if answered.get(ack.event_id) != AckStatus.DELIVERED:
                            answered[ack.event_id] = ack.status

            for n, item in enumerate(hostile):
                peers[n % PEERS].send_frame(item.frame)
                if n % 100 == 0:
                    peers[n % PEERS].send(valid[n // 100])
                if n % 1000 == 0:
                    for stranger in strangers:  # refused at the handshake: the send times out
                        stranger_sends += stranger.send(valid_event(users[0]), wait_s=0.2)
                        stranger_sends += stranger.recv_ack(0) is not None
                    drain()
                if n % max(1, count // 10) == 0:
                    rss.append((n, rss_mib(pid)))
                    print(f"  {n:>8} frames  ingress RSS {rss[-1][1]:.1f} MiB", flush=True)
            end = time.monotonic() + 120
            while time.monotonic() < end and (
                not owed <= set(answered)
                or any(answered.get(e.event_id) != AckStatus.DELIVERED for e in valid)
            ):
                drain()
                for n, event in enumerate(valid):
                    if (
                        answered.get(event.event_id) != AckStatus.DELIVERED
                        and n % 10 == int(time.time()) % 10
                    ):
                        peers[n % PEERS].send(event)  # resend until final
                time.sleep(0.05)
            drain()
            rss.append((count, rss_mib(pid)))
            alive = stack.ingress.poll() is None
            for peer in (*peers, *strangers):
                peer.close()
        finally:
            stack.close()
    got = sum(1 for e in owed if answered.get(e) == AckStatus.ACK_ERROR)
    delivered = sum(1 for e in valid if answered.get(e.event_id) == AckStatus.DELIVERED)
    growth = rss[-1][1] - rss[1][1] if len(rss) > 1 else 0.0
    print(f"\nfuzz: {count} hostile frames, logs in {root}")
    rows = [
        ("frames sent", f"{count}"),
        ("ACK_ERROR owed (usable id, invalid)", f"{len(owed)}"),
        ("ACK_ERROR received", f"{got}"),
        ("valid events delivered", f"{delivered}/{len(valid)}"),
        ("events of unregistered/subscriber keys taken", f"{stranger_sends}"),
        ("ingress alive", "yes" if alive else "NO"),
        ("ingress RSS first tenth -> end", f"{rss[1][1]:.1f} -> {rss[-1][1]:.1f} MiB"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    ok = (
        alive
        and got == len(owed)
        and delivered == len(valid)
        and growth < 20
        and stranger_sends == 0
    )
    print(f"  goal: {'met' if ok else 'MISSED'}")
    return ok


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100_000, help="hostile frames to send")
    return 0 if run(parser.parse_args().frames) else 1


if __name__ == "__main__":
    sys.exit(main())
