"""Chaos: CRITICAL events through a whole stack of real processes while it is broken on purpose.

    python bench/chaos.py                 # 10,000 events at 100/s, every fault
    python bench/chaos.py --events 2000 --rate 50

`--events` CRITICAL ORDER_FILLED events go to Discord (the provider sandbox) from 8 containers
that resend every event until it is final (backing off to 8 s, and at once after a reconnect),
through an ingress, 2 Celery workers (concurrency 2) and a scheduler, on a Redis of the run's own
(AOF on, its own data folder). While they flow, counted back from the moment the last event
is sent (T, events / rate; a short run shifts everything to start 5 s in):

  at T-40 s  a worker is SIGKILLed (with its pool) mid-delivery, and started again
  at T-30 s  Discord answers 500 to everything, for 30 s (--outage)
  at T-20 s  the ingress is SIGKILLed and started again
  at T-10 s  Redis is restarted (SIGTERM, 1 s down, started on the same data)

It prints one table: sent, DELIVERED, ACK_ERROR, not final, provider-side accepted duplicates
(Discord answered 2xx more than once for an event), the number of kills, and the time from the
last fault until every event was final. Goal: not final 0, ACK_ERROR 0, duplicates <= 1 per
kill, every event final within 30 s of the last fault. Exit status 0 when the goal is met.
The stack's logs stay in the folder printed at the end.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client import make_event  # noqa: E402
from sandbox import SandboxServer, SandboxState  # noqa: E402
from settings import connect_address  # noqa: E402
from store import Store  # noqa: E402
from tests.faults.stack import Containers, Stack, delivered_requests  # noqa: E402

#: Settings of the run (printed with its table): one retry per round and short pauses
#: between rounds, so an event caught in the outage is tried again within seconds of its end
#: (the defaults' 30 s first round pause would be the whole budget).
RUN_SETTINGS = {
    "NOTIFY_CHANNEL_RETRIES": "1",
    "NOTIFY_RETRY_BASE_S": "0.5",
    "NOTIFY_ROUND_BACKOFF_S": "1",
}
USERS = 50


def _events(store: Store, sandbox_url: str, count: int) -> list:
    users = [f"chaos-{uuid.uuid4().hex[:8]}" for _ in range(USERS)]
    for user in users:
        store.directory.update(user, discord_webhook=f"{sandbox_url}/discord/api/webhooks/9/{user}")
    payload = {"symbol": "ETH/USDT", "side": "buy", "fill_quantity": "2", "fill_price": "3000"}
    return [
        make_event(users[n % USERS], "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], payload)
        for n in range(count)
    ]


class Faults(threading.Thread):
    """The fault schedule of the module docstring, on its own thread; `last` is when the last
    fault ended (monotonic)."""

    def __init__(
        self, stack: Stack, sandbox: SandboxServer, start: float, end: float, outage_s: float
    ):
        super().__init__(daemon=True)
        self.stack, self.sandbox, self.start_at, self.outage_s = stack, sandbox, start, outage_s
        #: The schedule's zero: 40 s before the last event goes out (never before 5 s in).
        self.zero = max(end - 40.0, 5.0)
        self.last = start
        self.kills = 0
        self.log: list[str] = []

    def _at(self, offset: float) -> None:
        time.sleep(max(0.0, self.start_at + self.zero + offset - time.monotonic()))

    def _note(self, what: str) -> None:
        self.last = time.monotonic()
        self.log.append(f"{self.last - self.start_at:6.1f}s  {what}")
        print(self.log[-1], flush=True)

    def run(self) -> None:
        self._at(0)
        Stack.kill(self.stack.workers[1])
        self.kills += 1
        self._note("worker 1 SIGKILLed")
        self.stack.start_worker(1)
        self._note("worker 1 started again")
        self._at(10)
        self.sandbox.state.set_switch("discord", "server_error")
        self._note(f"Discord answers 500 for {self.outage_s:g} s")
        self._at(20)
        Stack.kill(self.stack.ingress)
        self.kills += 1
        self._note("ingress SIGKILLed")
        self.stack.start_ingress()
        self._note("ingress started again")
        self._at(30)
        self.stack.restart_redis(down_s=1.0)
        self._note("Redis restarted")
        self._at(10 + self.outage_s)
        self.sandbox.state.set_switch("discord", "ok")
        self._note("Discord answers 200 again")


def run(events_count: int, rate: float, outage_s: float, wait_s: float) -> bool:
    root = Path(tempfile.mkdtemp(prefix="notify-chaos-"))
    with SandboxServer(
        port=0, state=SandboxState(max_records=10 * events_count + 10_000)
    ) as sandbox:
        stack = Stack(root, sandbox.url, RUN_SETTINGS)
        try:
            stack.start(workers=2)
            store = Store(stack.redis_url, stack.env["NOTIFY_KEY_PREFIX"])
            events = _events(store, sandbox.url, events_count)
            containers = Containers(connect_address(stack.env["NOTIFY_INGRESS_ROUTER"]), count=8)
            start = time.monotonic()
            faults = Faults(stack, sandbox, start, events_count / rate, outage_s)
            faults.start()
            sent = 0
            while sent < len(events):  # paced, so the faults meet events in every state
                due = min(len(events), int((time.monotonic() - start) * rate) + 1)
                containers.send(events[sent:due])
                sent = due
                containers.wait(0.05)
            faults.join()
            done = containers.run_until_final(wait_s)
            counts = containers.counts()
            accepted = delivered_requests(sandbox.state.requests("discord"))
            duplicates = sum(max(0, accepted[e.event_id] - 1) for e in events)
            containers.close()
        finally:
            alive = stack.alive()
            stack.close()
    final_after = done - faults.last
    rows = [
        ("sent", f"{len(events)}"),
        ("DELIVERED", f"{counts.get('DELIVERED', 0)}"),
        ("ACK_ERROR", f"{counts.get('ACK_ERROR', 0)}"),
        ("not final", f"{counts.get('not final', 0)}"),
        ("provider-side accepted duplicates", f"{duplicates}"),
        ("kills (worker, ingress)", f"{faults.kills}"),
        ("last fault -> every event final", f"{final_after:.1f} s"),
        ("processes alive at the end", f"{sum(alive.values())}/{len(alive)}"),
    ]
    width = max(len(name) for name, _ in rows)
    settings = " ".join(f"{k}={v}" for k, v in RUN_SETTINGS.items())
    print(f"\nchaos: {len(events)} CRITICAL events at {rate:g}/s ({settings}), logs in {root}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")
    met = (
        counts.get("not final", 0) == 0
        and counts.get("ACK_ERROR", 0) == 0
        and duplicates <= faults.kills
        and final_after <= 30
    )
    print(
        f"  goal (0 not final, 0 ACK_ERROR, dup <= 1 per kill, final <= 30 s): {'met' if met else 'MISSED'}"
    )
    return met


def main() -> int:
    # SIGTERM ends the run like Ctrl-C: the stack's processes are stopped, never left behind.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000, help="CRITICAL events to send")
    parser.add_argument("--rate", type=float, default=100.0, help="events sent per second")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds Discord answers 500")
    parser.add_argument("--wait", type=float, default=300.0, help="most seconds to wait at the end")
    args = parser.parse_args()
    return 0 if run(args.events, args.rate, args.outage, args.wait) else 1


if __name__ == "__main__":
    sys.exit(main())
