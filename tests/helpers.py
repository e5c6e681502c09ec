"""The small helpers every test package shares, written once: free ports, polling until a
condition holds (never a fixed sleep, never a timing assertion), child processes with a log
file, and factories for `channels.Notice` and `channels.Deps`.

Plain functions only; fixtures live in the conftest.py of the package that uses them. Import
from here (`from tests.helpers import wait_until`), never from a conftest.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from websockets.sync.client import ClientConnection, connect

from channels import Deps, Notice
from client import FINAL_STATUSES, Dealer
from settings import Settings
from store import Store
from telegram_bot import run_bot

__all__ = [
    "headless_chromium",
    "collect_acks",
    "drain_acks",
    "FILL_PAYLOAD",
    "FILL_TITLE",
    "ROOT",
    "closed_port_url",
    "free_port",
    "make_deps",
    "make_notice",
    "spawn",
    "start_ingress",
    "stop_process",
    "unique",
    "wait_for_claim",
    "wait_for_line",
    "wait_until",
]

T = TypeVar("T")

#: The repository root: where the child processes run.
ROOT = Path(__file__).resolve().parent.parent
#: An ORDER_FILLED payload that every channel renders with the title FILL_TITLE.
FILL_PAYLOAD: Mapping[str, str] = {
    "side": "buy",
    "fill_quantity": "0.5",
    "symbol": "BTC/USDT",
    "fill_price": "50000",
    "exchange": "binance",
    "order_id": "o-1",
}
FILL_TITLE = "Order filled — BUY 0.5 BTC/USDT @ 50000 (binance)"


# -- ids and ports ---------------------------------------------------------------------------------


def unique(name: str) -> str:
    """`name` plus a random suffix: an id no other test uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """An http:// base URL on 127.0.0.1 where nothing listens: a connection there is refused."""
    return f"http://127.0.0.1:{free_port()}"


# -- polling ---------------------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], T],
    what: str | Callable[[], str] = "the condition",
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    `timeout_s` only bounds a failure (the test fails instead of hanging); nothing is asserted
    about how long it took. `what` names the awaited condition in the failure; a callable is
    called then, so the message can show the state as it was at the end.
    """
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(interval_s)
    return value


def wait_for_claim(store: Store, user_id: str, event_id: str, state: str) -> dict[str, str]:
    """The event's claim once it reached `state` (a final one, as the worker writes it); the
    failure shows the claim as it was at the end."""

    def reached() -> dict[str, str]:
        claim = store.claims.read(user_id, event_id)
        return claim if claim.get("state") == state else {}

    def what() -> str:
        return f"{state}: the claim is {store.claims.read(user_id, event_id)}"

    return wait_until(reached, what, timeout_s=20)


# -- child processes -------------------------------------------------------------------------------


def spawn(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start `args` in the repository root with `env` on top of ours, output into `log_path`."""
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        args, cwd=ROOT, env={**os.environ, **env}, stdout=log_file, stderr=subprocess.STDOUT
    )


def wait_for_line(
    path: Path, needle: str, process: subprocess.Popen, timeout_s: float = 30.0
) -> None:
    """Block until `needle` shows up in the process's log file (or fail with the log)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if needle in text:
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(
        f"{needle!r} not seen; log of {path.name}:\n{path.read_text(errors='replace')[-4000:]}"
    )


def stop_process(process: subprocess.Popen, timeout_s: float = 15.0) -> int:
    """SIGTERM, then SIGKILL after `timeout_s`; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def start_ingress(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """A real `python -m ingress`, returned once it said it is ready."""
    process = spawn([sys.executable, "-m", "ingress"], env, log_path)
    wait_for_line(log_path, "ready:", process)
    process.log_path = log_path  # type: ignore[attr-defined]
    return process


# -- channels --------------------------------------------------------------------------------------


def make_notice(
    event_type: str = "ORDER_FILLED",
    priority: str = "CRITICAL",
    payload: Mapping[str, Any] | None = None,
    *,
    user_id: str | None = None,
    event_id: str | None = None,
) -> Notice:
    """A Notice built by hand (no frame): fresh `u-…` / `e-…` ids unless given, and
    FILL_PAYLOAD unless a payload is given."""
    return Notice(
        user_id=user_id or unique("u"),
        event_id=event_id or unique("e"),
        event_type=event_type,
        priority=priority,
        payload=dict(FILL_PAYLOAD if payload is None else payload),
    )


def make_deps(
    settings: Settings,
    store: Store,
    http: httpx.Client | None = None,
    clients: Mapping[int, Any] | None = None,
    publish_web: Callable[[str, bytes], None] | None = None,
) -> Deps:
    """Deps as a worker builds them, from a test's parts: its `http` client (when None, a new
    one with a 5 s timeout, which the caller closes), provider SDK `clients` by ChannelType
    (none unless given), and `publish_web` (a no-op unless given)."""
    return Deps(
        settings=settings,
        store=store,
        http=http if http is not None else httpx.Client(timeout=5),
        publish_web=publish_web if publish_web is not None else _publish_nowhere,
        clients=dict(clients or {}),
    )


def _publish_nowhere(user_id: str, frame: bytes) -> None:
    """A publish_web for tests that never reach WEB."""


def job_of(event, ingress_id: str, received_ms: int | None = None, routing_id: bytes = b"gone"):
    """Round 0's job of `event` (a UserEvent), as the ingress builds it."""
    from proto import encode_event
    from tasks import Job, channel_plan

    return Job(
        frame=encode_event(event),
        user_id=event.user_id,
        event_id=event.event_id,
        priority=event.delivery.priority,
        ingress_id=ingress_id,
        routing_id=routing_id,
        received_ms=int(time.time() * 1000) if received_ms is None else received_ms,
        plan=channel_plan(event, (), ()),
    )


def claim_as_queued(store: Store, job, routing_id: bytes = b"gone") -> None:
    """Claim `job`'s event as the ingress does and mark it QUEUED, as once the broker holds a
    chain the test publishes itself (so the outbox does not publish round 0 a second time)."""
    import json

    from tasks import RoundEntry

    entry = json.dumps(RoundEntry(job).to_dict())
    store.claims.claim_many(
        [(job.user_id, job.event_id, routing_id, job.critical, entry)],
        job.ingress_id,
        job.received_ms,
    )
    store.claims.mark_queued_many([(job.user_id, job.event_id, entry)], time.time())


def collect_acks(dealer: Dealer, event_id: str, timeout_s: float = 20.0) -> list:
    """This event's acks, in order, until a final one (DELIVERED / ACK_ERROR) or the timeout."""
    acks = []
    deadline = time.monotonic() + timeout_s
    while (remaining := deadline - time.monotonic()) > 0:
        ack = dealer.recv_ack(remaining)
        if ack is None:
            break
        if ack.event_id != event_id:
            continue
        acks.append(ack)
        if ack.status in FINAL_STATUSES:
            break
    return acks


def drain_acks(dealer: Dealer, quiet_s: float = 1.5) -> list:
    """Every ack that arrives until none has come for `quiet_s`."""
    acks = []
    while (ack := dealer.recv_ack(quiet_s)) is not None:
        acks.append(ack)
    return acks


# -- a browser ----------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextmanager
def headless_chromium():
    """Debian's chromium and chromedriver through selenium, headless, with a profile of its own
    and no background networking (the machine's network is closed)."""
    import shutil
    import tempfile

    import pytest
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: the browser tests need Debian's browser and driver "
            "(apt-get install -y chromium chromium-driver)",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="notify-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class RunningBot:
    """The Telegram bot (run_bot) in a thread: `halt()` stops it; `errors` says what ended it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(settings, store), daemon=True)

    def _run(self, settings: Settings, store: Store) -> None:
        try:
            run_bot(settings, self.stop, store)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(20.0)


@contextmanager
def browser(
    ws_url: str, token: str, since: str | None = None, **options: Any
) -> Iterator[ClientConnection]:
    """A browser's session socket, past what every connect begins with: the events recovered
    after `since` (the last history offset it saw), kept as `ws.recovered`, then the `recovery`
    message, kept as `ws.recovery`."""
    query = f"?token={token}" + (f"&since={since}" if since else "")
    with connect(ws_url + query, open_timeout=10, **options) as ws:
        ws.recovered = []
        while (message := json.loads(ws.recv(timeout=10)))["type"] != "recovery":
            assert message["type"] == "event" and message["recovered"], message
            ws.recovered.append(message)
        ws.recovery = message
        yield ws
