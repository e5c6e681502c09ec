"""The container-side client: send UserEvents on a DEALER, read EventAcks, resend until final.

    client = NotifyClient("tcp://127.0.0.1:5571", identity=b"container-42")
    event = make_event("u1", "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], {"symbol": "BTC/USDT"})
    for ack in client.deliver(event, timeout_s=30):
        print(AckStatus.Name(ack.status))

A NORMAL or CRITICAL event is resent with the same event_id until it has a final status
(DELIVERED or ACK_ERROR; QUEUED alone is not final): the ingress never delivers a resend twice
and replays the current status, so a lost ack is always recovered.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
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

__all__ = ["FINAL_STATUSES", "NotifyClient", "make_event"]

FINAL_STATUSES = {AckStatus.DELIVERED, AckStatus.ACK_ERROR}


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
        self, address: str, identity: bytes | None = None, context: zmq.Context | None = None
    ) -> None:
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        if identity:
            # A stable routing id: acks for events sent before a reconnect still reach us.
            self._socket.setsockopt(zmq.ROUTING_ID, identity)
        self._socket.setsockopt(zmq.LINGER, 1000)
        self._socket.connect(address)

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> NotifyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, event: UserEvent) -> None:
        self.send_frame(encode_event(event))

    def send_frame(self, frame: bytes) -> None:
        """Send raw bytes as one frame (also for tests of malformed input)."""
        self._socket.send(frame)

    def recv_ack(self, timeout_s: float) -> EventAck | None:
        """The next EventAck within the timeout, or None. Frames that are not acks are skipped."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            if not self._socket.poll(int(remaining * 1000) + 1):
                return None
            try:
                message = decode_frame(self._socket.recv())
            except FrameError:
                continue
            if isinstance(message, EventAck):
                return message
        return None

    def deliver(
        self, event: UserEvent, timeout_s: float = 30.0, resend_every_s: float = 2.0
    ) -> Iterator[EventAck]:
        """Send, then yield this event's acks as they come, resending until a final one or timeout.

        INFORMATIONAL events get no ack: they are sent once and nothing is yielded.
        """
        self.send(event)
        if event.delivery.priority == Priority.INFORMATIONAL:
            return
        deadline = time.monotonic() + timeout_s
        next_resend = time.monotonic() + resend_every_s
        while (now := time.monotonic()) < deadline:
            ack = self.recv_ack(min(deadline, next_resend) - now)
            if ack is None:
                if time.monotonic() >= next_resend:
                    self.send(event)
                    next_resend = time.monotonic() + resend_every_s
                continue
            if ack.event_id != event.event_id:
                continue
            yield ack
            if ack.status in FINAL_STATUSES:
                return
