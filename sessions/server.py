"""Run the session server: websockets' asyncio server plus one zmq SUB, on one event loop.

In a background thread for tests and tools (`SessionServer` as a context manager), or in the
foreground for ``notify sessions`` (`run`), which stops cleanly on SIGTERM/SIGINT. Default
address 0.0.0.0:8570 (docs/configuration.md); the SUB connects to ``NOTIFY_INGRESS_XPUB`` (every
ingress XPUB when given several). Settings read: ``session_secret``, ``xpub_connect``,
``web_ack_timeout_s`` (a recorded ack lives at least twice as long), ``session_history_size``
and ``session_history_s`` (what a reconnecting browser can recover), ``redis_url``,
``key_prefix``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import zmq
import zmq.asyncio
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from client import CurveKeys
from proto import EventType, Priority, UserEvent
from settings import ExposureError, Settings, guard_bind, store_answers_or_exit
from store import Store, StoreError

from .ack_links import AckLinks
from .hub import Hub
from .routes import WS_PATH, Handshake
from .tokens import load_secret

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "SessionServer", "run"]

log = logging.getLogger(__name__)

#: Where the session server listens unless told otherwise.
#: "*": every interface with a subscriber key, else loopback only (protected mode).
DEFAULT_HOST = "*"
#: The session WebSocket port (docs/configuration.md).
DEFAULT_PORT = 8570
#: A recorded ack lives at least this long, and at least twice the WEB channel's wait.
MIN_ACK_TTL_S = 60
#: Largest message a browser may send (acks are tiny); larger closes that socket (1009).
MAX_CLIENT_MESSAGE = 16 * 1024
#: ZMQ heartbeats on the SUB, so a vanished ingress is noticed and the SUB reconnects.
HEARTBEAT_IVL_MS = 5_000
HEARTBEAT_TIMEOUT_MS = 15_000
#: How long closing the SUB may take to flush its unsubscriptions.
LINGER_MS = 1_000
#: How often open sockets are checked for an expired or revoked token.
ENFORCE_S = 1.0
#: Redis commands of the hub (history writes and reads, acks) time out after this long: a slow
#: Redis must not hold back live delivery (the hub pauses its history writes after a failure).
HUB_REDIS_TIMEOUT_S = 1.0
#: How long `SessionServer.start` waits for the server to listen.
STARTUP_TIMEOUT_S = 10.0


def _bind(host: str, port: int) -> socket.socket:
    host = "0.0.0.0" if host == "*" else host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class SessionServer:
    """The session server; `serve()` on your loop, or `start()`/`stop()` on its own thread.

    Parameters: `settings` and `store`; `host` and `port` to listen on (bound at once; port 0
    picks a free one, `.port`, `.url` and `.ws_url` have the real one); `xpub_addresses`, the
    ingress XPUBs to subscribe on (default ``[settings.xpub_connect]``). One use: the listening
    socket closes when serving ends, so build a new server to serve again.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        xpub_addresses: Sequence[str] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.xpub_addresses = list(xpub_addresses or settings.session_xpubs)
        self._curve = CurveKeys.from_settings(settings)
        self.ack_ttl_s = max(2 * settings.web_ack_timeout_s, MIN_ACK_TTL_S)
        secret = load_secret(settings, store)
        self._handshake = Handshake(
            secret,
            lambda user_id: store.sessions_revoked_before([user_id])[user_id],
            AckLinks(secret, store.human_acks),
        )
        self._socket = _bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{_url_host(host)}:{self.port}"
        self.ws_url = f"ws://{_url_host(host)}:{self.port}{WS_PATH}"
        self.hub: Hub | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    # The server itself.

    async def _session(self, connection: ServerConnection) -> None:
        assert self.hub is not None
        session = self.hub.join(connection.username, connection)
        try:
            await self.hub.recover(session, getattr(connection, "recover_since", None))
            async for message in connection:
                await self.hub.on_message(session, message)
        except ConnectionClosed:
            pass
        finally:
            await self.hub.leave(session)

    def _asks_for_ack(self, event: UserEvent) -> bool:
        name = EventType.Name(event.event_type) if event.event_type in EventType.values() else ""
        return self.settings.asks_for_ack(name, event.delivery.priority == Priority.CRITICAL)

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Serve until `stop` is set (forever when None), then close sessions and unsubscribe."""
        stop = stop or asyncio.Event()
        context = zmq.asyncio.Context()
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, LINGER_MS)
        sub.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        sub.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        if self._curve is not None:  # a subscriber key (`notify keys add --subscriber`)
            self._curve.apply(sub)
        for address in self.xpub_addresses:
            sub.connect(address)
        history = (self.settings.session_history_size, self.settings.session_history_s)
        quick = Store(self.store.redis_url, self.store.keys.prefix, HUB_REDIS_TIMEOUT_S)
        self.hub = hub = Hub(sub, quick, self.ack_ttl_s, self._asks_for_ack, history)
        pump = asyncio.create_task(hub.pump(), name="xpub-pump")
        enforcer = asyncio.create_task(self._enforce(hub), name="token-enforcer")
        try:
            async with serve(
                self._session,
                sock=self._socket,
                process_request=self._handshake,
                max_size=MAX_CLIENT_MESSAGE,
                server_header=None,
            ) as server:
                log.info(
                    "session server ready: url=%s xpub=%s", self.url, ",".join(self.xpub_addresses)
                )
                self._ready.set()
                await stop.wait()
                log.info("session server stopping: closing sessions=%d", len(server.connections))
                server.close()
                await server.wait_closed()
        finally:
            for task in (pump, enforcer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            hub.unsubscribe_all()
            sub.close()  # lingers up to LINGER_MS to flush the unsubscriptions
            context.term()
            log.info("session server stopped")

    async def _enforce(self, hub: Hub) -> None:
        """Every ENFORCE_S: close the sockets whose token expired or whose user was revoked."""
        while True:
            await asyncio.sleep(ENFORCE_S)
            try:
                users = sorted(hub.users())
                revoked = await asyncio.to_thread(self.store.sessions_revoked_before, users)
            except StoreError as exc:  # expiry still holds; revocations wait for Redis
                log.warning("session revocations not read: %s", type(exc).__name__)
                revoked = {}
            hub.enforce(time.time(), revoked)

    # Background thread (tests, tools).

    def _thread_main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.serve(self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            log.exception("session server thread failed")
        finally:
            self._ready.set()

    def start(self) -> SessionServer:
        """Serve on a background thread; returns once listening."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._thread_main, name=f"sessions-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT_S) or self._error is not None:
            self.stop()
            raise RuntimeError(f"session server did not start on {self.url}: {self._error!r}")
        return self

    def stop(self) -> None:
        """Close every session, unsubscribe, and wait for the thread."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already gone
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> SessionServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve in the foreground until SIGTERM/SIGINT (``notify sessions``); the exit status."""
    if not logging.getLogger().handlers:
        from logsetup import configure_logging

        configure_logging()
    store_answers_or_exit(settings, "notify sessions")
    store = Store(settings.redis_url, settings.key_prefix)
    secured = CurveKeys.from_settings(settings) is not None
    try:
        host = guard_bind(
            host,
            secured,
            settings.insecure,
            f"session server (--host {host})",
            "give it a subscriber key (NOTIFY_CURVE_CLIENT_* from `notify keys add --subscriber`)",
        )
    except ExposureError as exc:
        print(f"notify sessions: {exc}", file=sys.stderr)
        return 2
    if settings.insecure and not secured:
        log.warning("NOTIFY_INSECURE=1: the session server listens without a subscriber key")
    try:
        server = SessionServer(settings, store, "0.0.0.0" if host == "*" else host, port)
    except (StoreError, OSError) as exc:
        log.error("session server cannot start: %s: %s", type(exc).__name__, exc)
        return 1

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _on_signal, signum, stop)
        await server.serve(stop)

    asyncio.run(main())
    return 0


def _on_signal(signum: int, stop: asyncio.Event) -> None:
    log.info("session server got %s, stopping", signal.Signals(signum).name)
    stop.set()
