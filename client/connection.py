"""One DEALER to the ingress: CURVE keys, a stable routing id, and failover across replicas.

The socket is connected to one ingress at a time. ZMQ reconnects to it by itself; when it has
been unreachable for `failover_s` (refused, gone, or refusing our key) the DEALER moves on to
the next address of the list, round and round. A completed handshake (first connect or any
later one) is reported by `watch()`, so the caller can resend what it is still waiting for.

Not thread-safe (no ZMQ socket is): the clients give it to one thread, or to one event loop.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import parse_monitor_message

from proto import EventAck, FrameError, UserEvent, decode_frame, encode_event

__all__ = ["CONNECT_WAIT_S", "CurveKeys", "Dealer"]

log = logging.getLogger(__name__)

#: How long `Dealer.send` waits for a connected ingress by default.
CONNECT_WAIT_S = 1.0
#: An ingress unreachable this long is left for the next address of the list.
FAILOVER_S = 3.0
#: Heartbeats: a silent ingress (a host that vanished without closing TCP) is noticed this fast.
HEARTBEAT_IVL_MS = 1000
HEARTBEAT_TIMEOUT_MS = 3000
#: What the monitor tells us about.
_WATCHED = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """A CURVE client's keys (Z85): the ingress's public key, and this client's pair
    (`notify keys add …` prints them; NOTIFY_CURVE_SERVER_PUBLIC, NOTIFY_CURVE_CLIENT_PUBLIC,
    NOTIFY_CURVE_CLIENT_SECRET)."""

    server_public: str
    public: str
    secret: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CurveKeys | None:
        """The keys the environment names, or None when it names no server key."""
        env = os.environ if environ is None else environ
        server = env.get("NOTIFY_CURVE_SERVER_PUBLIC", "").strip()
        if not server:
            return None
        public = env.get("NOTIFY_CURVE_CLIENT_PUBLIC", "").strip()
        secret = env.get("NOTIFY_CURVE_CLIENT_SECRET", "").strip()
        if not public or not secret:
            raise ValueError(
                "NOTIFY_CURVE_SERVER_PUBLIC is set, so NOTIFY_CURVE_CLIENT_PUBLIC and "
                "NOTIFY_CURVE_CLIENT_SECRET must be too (`notify keys add USER_ID` prints them)"
            )
        return cls(server, public, secret)

    @classmethod
    def from_settings(cls, settings) -> CurveKeys | None:
        """The keys the server's settings object names, or None when it names none."""
        if not settings.curve_server_public:
            return None
        return cls(
            settings.curve_server_public, settings.curve_client_public, settings.curve_client_secret
        )

    def apply(self, sock: zmq.Socket) -> None:
        """Make `sock` a CURVE client of the ingress (before it connects)."""
        sock.curve_serverkey = self.server_public.encode()
        sock.curve_publickey = self.public.encode()
        sock.curve_secretkey = self.secret.encode()


class Dealer:
    """A DEALER connected to one ingress of `addresses` at a time.

    Parameters: `addresses`, one ROUTER address or several (replicas, tried in order);
    `identity`, the stable routing id (the container id: acks for events sent before a
    reconnect still reach it; None = a random one); `curve`, the keys for a CURVE ingress;
    `failover_s`, how long an address may stay unreachable before the next is tried;
    `send_hwm`, frames ZMQ may queue for the ingress (beyond it a send says False).
    """

    def __init__(
        self,
        addresses: str | Sequence[str],
        identity: bytes | None = None,
        curve: CurveKeys | None = None,
        context: zmq.Context | None = None,
        failover_s: float = FAILOVER_S,
        send_hwm: int = 1000,
    ) -> None:
        self.addresses = [addresses] if isinstance(addresses, str) else list(addresses)
        if not self.addresses:
            raise ValueError("no ingress address given")
        #: The routing id the ingress knows this container by (None: a random one).
        self.identity = identity
        self._failover_s = failover_s
        self.socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        if curve is not None:
            curve.apply(self.socket)
        if identity:
            self.socket.setsockopt(zmq.ROUTING_ID, identity)
        self.socket.setsockopt(zmq.LINGER, 1000)
        self.socket.setsockopt(zmq.SNDHWM, send_hwm)
        # Only to an ingress whose handshake completed (CURVE: one that admitted our key); a
        # send with none says False, and the event goes again on the next connect.
        self.socket.setsockopt(zmq.IMMEDIATE, 1)
        self.socket.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        self.socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        self.monitor = self.socket.get_monitor_socket(_WATCHED)
        self._index = 0
        self.connected = False
        self._down_since = time.monotonic()
        self._refused_logged: set[str] = set()
        self.socket.connect(self.address)

    @property
    def address(self) -> str:
        """The ingress this DEALER is connected (or connecting) to."""
        return self.addresses[self._index]

    def watch(self) -> bool:
        """Read what the monitor saw; True when a handshake completed since the last call (a
        reason to resend everything still open). Moves to the next address when due."""
        handshake = False
        while self.monitor.poll(0):
            message = parse_monitor_message(self.monitor.recv_multipart())
            if message["endpoint"].decode(errors="replace") != self.address:
                continue  # news of an address this DEALER has already left
            event = message["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected, handshake = True, True
                self._refused_logged.discard(self.address)
                continue
            # Disconnected, or a handshake failed.
            if (
                event == zmq.EVENT_HANDSHAKE_FAILED_AUTH
                and self.address not in self._refused_logged
            ):
                self._refused_logged.add(self.address)
                log.error("ingress %s refused this client's CURVE key", self.address)
            if self.connected:
                self._down_since = time.monotonic()
            self.connected = False
        if (
            not self.connected
            and len(self.addresses) > 1
            and time.monotonic() - self._down_since >= self._failover_s
        ):
            self._move_on()
        return handshake

    def reconnected(self) -> bool:
        """Has the DEALER (re)connected since the last call? (The first connect counts.)"""
        return self.watch()

    def _move_on(self) -> None:
        previous = self.address
        self.socket.disconnect(previous)
        self._index = (self._index + 1) % len(self.addresses)
        log.warning("ingress %s unreachable; moving to %s", previous, self.address)
        self.socket.connect(self.address)
        self._down_since = time.monotonic()

    def send(self, event: UserEvent, wait_s: float = CONNECT_WAIT_S) -> bool:
        """Hand the event to ZMQ; False when no ingress is connected within `wait_s`."""
        return self.send_frame(encode_event(event), wait_s)

    def send_frame(self, frame: bytes, wait_s: float = CONNECT_WAIT_S) -> bool:
        """Send raw bytes as one frame (also for tests of malformed input); False when no
        ingress is connected within `wait_s` (0: do not wait) or its queue is full."""
        if wait_s and not self.socket.poll(int(wait_s * 1000), zmq.POLLOUT):
            return False
        try:
            self.socket.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def recv_acks(self) -> list[EventAck]:
        """Every EventAck already received, without waiting. Frames that are not acks are
        skipped (an ingress sends nothing else)."""
        acks = []
        while True:
            try:
                frame = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return acks
            try:
                message = decode_frame(frame)
            except FrameError:
                log.warning("skipped a frame from the ingress that does not decode")
                continue
            if isinstance(message, EventAck):
                acks.append(message)

    def recv_ack(self, timeout_s: float) -> EventAck | None:
        """The next EventAck within the timeout, or None (for tests and simple tools)."""
        deadline = time.monotonic() + timeout_s
        while True:  # timeout 0: whatever is there already, without waiting
            remaining = max(0.0, deadline - time.monotonic())
            if not self.socket.poll(int(remaining * 1000) + (1 if remaining else 0)):
                return None
            try:
                message = decode_frame(self.socket.recv())
            except FrameError:
                continue
            if isinstance(message, EventAck):
                return message

    def close(self) -> None:
        self.socket.disable_monitor()
        self.monitor.close()
        self.socket.close()

    def __enter__(self) -> Dealer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
