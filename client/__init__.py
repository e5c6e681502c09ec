"""The container-side client: send UserEvents on a DEALER, read EventAcks, resend until final.

    client = NotifyClient("tcp://127.0.0.1:5571", identity=b"container-42")
    event = make_event("u1", "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], {"symbol": "BTC/USDT"})
    for ack in client.deliver(event, timeout_s=30):
        print(AckStatus.Name(ack.status))

A NORMAL or CRITICAL event is resent with the same event_id until it has a final status
(DELIVERED or ACK_ERROR; QUEUED alone is not final): the ingress never delivers a resend twice
and replays the current status, so a lost ack is always recovered. Resends back off (2 s,
doubling, at most 30 s), go out at once after every reconnect, and stop only when the event's
deadline (CRITICAL, 24 h by default) or TTL (NORMAL, 10 min) has passed: by then the ingress
has answered ACK_ERROR.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from proto import (
    AckStatus,
    ChannelType,
    EventAck,
    EventType,
    FrameError,
    Priority,
    UserEvent,
    decode_frame,
    encode_event,
)

__all__ = ["FINAL_STATUSES", "CurveKeys", "NotifyClient", "give_up_after_s", "make_event"]

FINAL_STATUSES = {AckStatus.DELIVERED, AckStatus.ACK_ERROR}
#: The service's defaults (NOTIFY_CRITICAL_DEADLINE_S, NOTIFY_NORMAL_TTL_S), plus a minute for
#: its final ACK_ERROR to arrive.
DEFAULT_CRITICAL_DEADLINE_S = 86400.0
DEFAULT_NORMAL_TTL_S = 600.0
FINAL_ACK_GRACE_S = 60.0
#: How long a single send waits for a connected ingress (resends in a loop do not wait).
CONNECT_WAIT_S = 1.0
#: A resend that found no connected ingress is tried again this soon.
RECONNECT_RETRY_S = 0.1
#: Resend backoff: first wait, and the longest.
RESEND_FIRST_S = 2.0
RESEND_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """A CURVE client's keys (Z85): the ingress's public key, and this client's pair
    (`notify keys add …` prints them; NOTIFY_CURVE_SERVER_PUBLIC, NOTIFY_CURVE_CLIENT_PUBLIC,
    NOTIFY_CURVE_CLIENT_SECRET)."""

    server_public: str
    public: str
    secret: str

    @classmethod
    def from_settings(cls, settings: Any) -> CurveKeys | None:
        """The keys the settings name, or None when they name none."""
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


def give_up_after_s(
    event: UserEvent,
    critical_deadline_s: float = DEFAULT_CRITICAL_DEADLINE_S,
    normal_ttl_s: float = DEFAULT_NORMAL_TTL_S,
) -> float:
    """How long to keep resending `event`: its deadline or TTL, and a little grace."""
    critical = event.delivery.priority == Priority.CRITICAL
    return (critical_deadline_s if critical else normal_ttl_s) + FINAL_ACK_GRACE_S


def make_event(
    user_id: str,
    event_type: str,
    priority: str,
    channels: Sequence[tuple[str, bool]] = (),
    payload: dict[str, Any] | bytes | None = None,
    event_id: str | None = None,
    timestamp_ms: int | None = None,
) -> UserEvent:
    """Build a UserEvent from names; raises ValueError on an unknown enum name."""
    event = UserEvent(
        user_id=user_id,
        event_id=event_id or str(uuid.uuid4()),
        timestamp=timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        event_type=EventType.Value(event_type),
    )
    if isinstance(payload, dict):
        event.payload = json.dumps(payload).encode()
    elif payload:
        event.payload = payload
    event.delivery.priority = Priority.Value(priority)
    for name, only_if_active in channels:
        event.delivery.channels.add(channel=ChannelType.Value(name), only_if_active=only_if_active)
    return event


class NotifyClient:
    """One DEALER connected to an ingress ROUTER. Not thread-safe (ZMQ sockets are not)."""

    def __init__(
        self,
        address: str,
        identity: bytes | None = None,
        context: zmq.Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        if curve is not None:
            curve.apply(self._socket)
        #: The routing id the ingress knows this container by (None: a random one).
        self.identity = identity
        if identity:
            # A stable routing id: acks for events sent before a reconnect still reach us.
            self._socket.setsockopt(zmq.ROUTING_ID, identity)
        self._socket.setsockopt(zmq.LINGER, 1000)
        # Only to an ingress whose handshake completed (CURVE: one that admitted our key); a
        # send with none gives up (after `wait_s`) and the event is resent later.
        self._socket.setsockopt(zmq.IMMEDIATE, 1)
        # Reconnects are watched, so the events still waiting for an ack are resent at once.
        self._monitor = self._socket.get_monitor_socket(zmq.EVENT_CONNECTED)
        self._socket.connect(address)

    def reconnected(self) -> bool:
        """Has the DEALER (re)connected since the last call? (The first connect counts.)"""
        seen = False
        while self._monitor.poll(0):
            self._monitor.recv_multipart()
            seen = True
        return seen

    def close(self) -> None:
        self._socket.disable_monitor()
        self._monitor.close()
        self._socket.close()

    def __enter__(self) -> NotifyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, event: UserEvent, wait_s: float = CONNECT_WAIT_S) -> bool:
        """Hand the event to ZMQ; False when no ingress is connected within `wait_s` (0: do
        not wait, as a loop of resends wants)."""
        return self.send_frame(encode_event(event), wait_s)

    def send_frame(self, frame: bytes, wait_s: float = CONNECT_WAIT_S) -> bool:
        """Send raw bytes as one frame (also for tests of malformed input); False when no
        ingress is connected within `wait_s`."""
        if wait_s and not self._socket.poll(int(wait_s * 1000), zmq.POLLOUT):
            return False
        try:
            self._socket.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def recv_ack(self, timeout_s: float) -> EventAck | None:
        """The next EventAck within the timeout, or None. Frames that are not acks are skipped."""
        deadline = time.monotonic() + timeout_s
        while True:  # timeout 0: whatever is there already, without waiting
            remaining = max(0.0, deadline - time.monotonic())
            if not self._socket.poll(int(remaining * 1000) + (1 if remaining else 0)):
                return None
            try:
                message = decode_frame(self._socket.recv())
            except FrameError:
                continue
            if isinstance(message, EventAck):
                return message

    def deliver(
        self,
        event: UserEvent,
        timeout_s: float | None = None,
        resend_every_s: float = RESEND_FIRST_S,
    ) -> Iterator[EventAck]:
        """Send, then yield this event's acks as they come, resending until a final one.

        Resends wait `resend_every_s`, doubling up to RESEND_MAX_S, and go out at once after a
        reconnect. `timeout_s` (default: `give_up_after_s(event)`, its deadline or TTL) ends
        the wait without a final ack. INFORMATIONAL events get no ack: sent once, nothing yielded.
        """
        self.reconnected()  # the first connect is no reason to resend
        sent = self.send(event)
        if event.delivery.priority == Priority.INFORMATIONAL:
            return
        deadline = time.monotonic() + (give_up_after_s(event) if timeout_s is None else timeout_s)
        wait = resend_every_s
        next_resend = time.monotonic() + (wait if sent else RECONNECT_RETRY_S)
        while (now := time.monotonic()) < deadline:
            ack = self.recv_ack(min(deadline, next_resend, now + 0.25) - now)
            if ack is None:
                if self.reconnected() or time.monotonic() >= next_resend:
                    if self.send(event, wait_s=0):
                        wait = min(wait * 2, RESEND_MAX_S)
                        next_resend = time.monotonic() + wait
                    else:
                        next_resend = time.monotonic() + RECONNECT_RETRY_S
                continue
            if ack.event_id != event.event_id:
                continue
            yield ack
            if ack.status in FINAL_STATUSES:
                return
