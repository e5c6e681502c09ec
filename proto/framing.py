"""One ZMQ frame = 1 message-type byte + protobuf bytes (docs/protocol.md, "Frame layout").

`0x20` UserEvent (container -> ingress), `0x21` EventAck (ingress -> container). XPUB messages
are two frames: the topic (`user_id` + NUL) and the same 0x20 frame.
"""

from __future__ import annotations

from enum import IntEnum

from google.protobuf.message import DecodeError, Message

from .errors import DecodeFailed, EmptyFrame, UnknownMessageType
from .user_events_pb2 import AckStatus, ChannelType, EventAck, UserEvent
from .validation import ID_PATTERN

__all__ = [
    "MessageType",
    "ack_frame",
    "decode_frame",
    "encode_ack",
    "encode_event",
    "topic_for",
    "user_of_topic",
]

#: Separates a user id from anything after it, so a subscription to `u1` never matches `u10`.
TOPIC_END = b"\x00"


class MessageType(IntEnum):
    """The first byte of a frame."""

    USER_EVENT = 0x20  #: container -> ingress
    EVENT_ACK = 0x21  #: ingress -> container


_MESSAGES: dict[int, type[Message]] = {
    MessageType.USER_EVENT: UserEvent,
    MessageType.EVENT_ACK: EventAck,
}


def encode_event(event: UserEvent) -> bytes:
    """A UserEvent as one frame."""
    return bytes([MessageType.USER_EVENT]) + event.SerializeToString()


def encode_ack(ack: EventAck) -> bytes:
    """An EventAck as one frame."""
    return bytes([MessageType.EVENT_ACK]) + ack.SerializeToString()


def ack_frame(
    event_id: str, status: AckStatus, delivered_via: ChannelType | None = None, error: str = ""
) -> bytes:
    """The one place an EventAck is built: `status` always set explicitly, `delivered_via` the
    concrete channel (only with DELIVERED), `error_message` only with ACK_ERROR."""
    ack = EventAck(event_id=event_id, status=status, error_message=error)
    if delivered_via is not None:
        ack.delivered_via = delivered_via
    return encode_ack(ack)


def decode_frame(frame: bytes) -> UserEvent | EventAck:
    """Parse one frame; raises EmptyFrame, UnknownMessageType or DecodeFailed."""
    if not frame:
        raise EmptyFrame()
    message_class = _MESSAGES.get(frame[0])
    if message_class is None:
        raise UnknownMessageType(frame[0])
    body = bytes(frame[1:])
    message = message_class()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise DecodeFailed(message_class.DESCRIPTOR.name, body, str(exc) or "truncated") from exc
    return message


def topic_for(user_id: str) -> bytes:
    """The XPUB topic of a user: UTF-8 id + NUL."""
    return user_id.encode() + TOPIC_END


def user_of_topic(topic: bytes) -> str | None:
    """The user id of a presence topic, or None for any other prefix (e.g. the empty tap-all).

    Only a well-formed user id counts: a subscriber may send any bytes, and presence is
    mirrored into Redis keys, so a topic no valid event could ever match is not presence.
    """
    if not topic.endswith(TOPIC_END):
        return None
    user_id = topic[:-1].decode("ascii", errors="replace")
    return user_id if ID_PATTERN.fullmatch(user_id) else None
