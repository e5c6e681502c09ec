"""The two messages workers send to the ingresses through the broker, as bytes end to end.

An ingress consumes its own queue `ingress.<id>` (acks for the containers connected to it) and
the shared `ingress.web` (WEB deliveries, published by whichever ingress takes them):

  ack      0x01 | u8 len | routing id | 0x21 EventAck frame
  publish  0x02 | f64 sent_at (unix s, big-endian) | u8 len | user id | 0x20 UserEvent frame

Both are encoded by the worker and decoded once, by the ingress's zmq loop; `RelayError` names
what is wrong with a message that does not decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .framing import MessageType
from .validation import ID_PATTERN

__all__ = ["AckRelay", "PublishRelay", "RelayError", "decode_relay", "encode_relay"]

_ACK, _PUBLISH = 0x01, 0x02
_SENT_AT = struct.Struct(">d")


class RelayError(ValueError):
    """A relay message that does not decode; the message says why."""


@dataclass(frozen=True, slots=True)
class AckRelay:
    """An EventAck frame for the container behind `routing_id`."""

    routing_id: bytes
    frame: bytes


@dataclass(frozen=True, slots=True)
class PublishRelay:
    """A UserEvent frame to publish on the user's XPUB topic (a WEB delivery)."""

    user_id: str
    frame: bytes
    sent_at: float


def _short(data: bytes) -> bytes:
    if not 0 < len(data) < 256:
        raise RelayError(f"id of {len(data)} bytes (1-255 allowed)")
    return bytes([len(data)]) + data


def encode_relay(message: AckRelay | PublishRelay) -> bytes:
    if isinstance(message, AckRelay):
        return bytes([_ACK]) + _short(message.routing_id) + message.frame
    return (
        bytes([_PUBLISH])
        + _SENT_AT.pack(message.sent_at)
        + _short(message.user_id.encode())
        + message.frame
    )


def _split_id(data: bytes, at: int) -> tuple[bytes, bytes]:
    if len(data) <= at:
        raise RelayError("truncated before the id")
    end = at + 1 + data[at]
    if data[at] == 0 or len(data) < end:
        raise RelayError("truncated id")
    return data[at + 1 : end], data[end:]


def decode_relay(data: bytes) -> AckRelay | PublishRelay:
    """Parse one relay message; raises RelayError for anything malformed."""
    if not data:
        raise RelayError("empty message")
    if data[0] == _ACK:
        routing_id, frame = _split_id(data, 1)
        if not frame or frame[0] != MessageType.EVENT_ACK:
            raise RelayError("ack message without a 0x21 frame")
        return AckRelay(routing_id, frame)
    if data[0] == _PUBLISH:
        if len(data) < 1 + _SENT_AT.size:
            raise RelayError("truncated publish message")
        (sent_at,) = _SENT_AT.unpack_from(data, 1)
        raw_user, frame = _split_id(data, 1 + _SENT_AT.size)
        user_id = raw_user.decode("ascii", errors="replace")
        if not ID_PATTERN.fullmatch(user_id):
            raise RelayError("publish message for an invalid user id")
        if not frame or frame[0] != MessageType.USER_EVENT:
            raise RelayError("publish message without a 0x20 frame")
        return PublishRelay(user_id, frame, sent_at)
    raise RelayError(f"unknown relay message kind 0x{data[0]:02x}")
