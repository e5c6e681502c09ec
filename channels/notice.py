"""The event as channels see it: the decoded UserEvent with enum names and a parsed payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proto import EventType, InvalidEvent, Priority, UserEvent, decode_frame, parse_payload

__all__ = ["IN_WORDS", "Notice"]

#: The event type of a notice already in words (a digest, a test message): never on the wire;
#: its payload holds the "title" and "lines" every channel shows.
IN_WORDS = "IN_WORDS"


@dataclass(frozen=True, slots=True)
class Notice:
    """One event, ready to render: names instead of enum numbers, payload as a dict (numbers
    with a fraction as Decimal, so they keep their spelling), and the wire frame it came in."""

    user_id: str
    event_id: str
    event_type: str
    priority: str
    timestamp_ms: int = 0
    payload: dict[str, Any] = field(default_factory=dict)
    #: The 0x20 frame as received (what WEB publishes); empty when built by hand.
    frame: bytes = b""
    #: Set when the event asks for a person's acknowledgement on this attempt: the token of the
    #: channel's "Got it" button and the one-click link that redeems it (empty: not asked).
    ack_token: str = ""
    ack_url: str = ""

    @classmethod
    def from_event(
        cls, event: UserEvent, payload: dict[str, Any] | None = None, frame: bytes = b""
    ) -> Notice:
        """Build from a validated UserEvent; `payload` is the one validation parsed, if at hand.
        A payload that is not a JSON object (never so once validated) shows as empty."""
        if payload is None:
            try:
                payload = parse_payload(event.payload)
            except InvalidEvent:
                payload = {}
        return cls(
            user_id=event.user_id,
            event_id=event.event_id,
            event_type=EventType.Name(event.event_type),
            priority=Priority.Name(event.delivery.priority),
            timestamp_ms=event.timestamp,
            payload=payload,
            frame=frame,
        )

    @classmethod
    def in_words(cls, user_id: str, event_id: str, title: str, lines: list[str]) -> Notice:
        """A NORMAL notice that is not an event: its title and lines as given."""
        payload = {"title": title, "lines": lines}
        return cls(user_id, event_id, IN_WORDS, "NORMAL", payload=payload)

    @classmethod
    def from_frame(cls, frame: bytes) -> Notice:
        """Decode a validated 0x20 frame (the ingress checked it) and parse its payload once."""
        event = decode_frame(frame)
        if not isinstance(event, UserEvent):
            raise TypeError("not a UserEvent frame")
        return cls.from_event(event, frame=frame)
