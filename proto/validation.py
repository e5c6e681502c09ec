"""Rules a UserEvent must meet before the pipeline takes it (docs/protocol.md, "Field rules
and limits").

proto3 reads unset fields as zero, so presence is checked explicitly (`HasField("delivery")`),
and enum fields are checked against their enum: an unknown number is an error, never a default.
The payload is parsed here, once (`parse_payload`), and the parsed object is handed on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import InvalidEvent, MissingField, TooLarge
from .user_events_pb2 import ChannelType, EventType, Priority, UserEvent

__all__ = [
    "ID_PATTERN",
    "MAX_JSON_DEPTH",
    "Limits",
    "parse_payload",
    "usable_event_id",
    "validate_event",
]

#: user_id and event_id: 1-128 bytes of this alphabet (no NUL: it would leak into another topic).
ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
#: Deepest nesting of objects and arrays a payload may have (the payload object itself is 1).
MAX_JSON_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits, from settings."""

    max_payload_bytes: int = 65536
    max_frame_bytes: int = 262144


def usable_event_id(event: UserEvent) -> str | None:
    """The event id if it is well-formed enough to address an ACK_ERROR to, else None."""
    return event.event_id if ID_PATTERN.fullmatch(event.event_id) else None


def _check_id(field: str, value: str) -> None:
    if not value:
        raise MissingField(field)
    if not ID_PATTERN.fullmatch(value):
        raise InvalidEvent(field, "must be 1-128 characters of [A-Za-z0-9._:@-]")


#: Each enum's known numbers, built once (`EnumTypeWrapper.values()` builds a list per call).
_KNOWN = {wrapper: frozenset(wrapper.values()) for wrapper in (ChannelType, EventType, Priority)}


def _check_enum(field: str, enum_wrapper, value: int) -> None:
    if value not in _KNOWN[enum_wrapper]:
        raise InvalidEvent(field, f"unknown {enum_wrapper.DESCRIPTOR.name} value {value}")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


#: One decoder for every payload (json.loads with options builds a new one per call).
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, `{}` is 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_payload(raw: bytes) -> dict[str, Any]:
    """The payload as a JSON object; InvalidEvent naming the problem otherwise.

    Numbers with a fraction or exponent become `Decimal`, so "50000.10" keeps its spelling
    through every channel. Empty bytes are the empty object.
    """
    if not raw:
        return {}
    try:
        # Decoded as UTF-8 first: json.loads(bytes) would also take UTF-16/32, which
        # browsers and channels do not. NaN/Infinity are not JSON either (JSON.parse fails).
        decoded = _DECODER.decode(raw.decode("utf-8"))
    except RecursionError as exc:
        raise _too_deep() from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent("payload", f"not JSON ({exc})") from exc
    if not isinstance(decoded, dict):
        raise InvalidEvent("payload", f"must be a JSON object, got {type(decoded).__name__}")
    # Only a payload with that many brackets can nest that deep: most need no walk at all.
    if raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH and _depth(decoded) > MAX_JSON_DEPTH:
        raise _too_deep()
    return decoded


def _too_deep() -> InvalidEvent:
    return InvalidEvent("payload", f"JSON nested deeper than MAX_JSON_DEPTH={MAX_JSON_DEPTH}")


def _check_channels(channels) -> None:
    seen: set[int] = set()
    known = _KNOWN[ChannelType]
    for index, preference in enumerate(channels):
        channel = preference.channel
        if channel not in known or channel in seen:
            field = f"delivery.channels[{index}].channel"
            _check_enum(field, ChannelType, channel)
            name = ChannelType.Name(channel)
            raise InvalidEvent(field, f"{name} repeated (each channel may be named once)")
        seen.add(channel)


def validate_event(event: UserEvent, frame_size: int, limits: Limits) -> dict[str, Any]:
    """The parsed payload of a valid event; raises an InvalidEvent subclass naming the field
    and the problem otherwise."""
    _check_id("event_id", event.event_id)
    if frame_size > limits.max_frame_bytes:
        raise TooLarge("frame", frame_size, "NOTIFY_MAX_FRAME_BYTES", limits.max_frame_bytes)
    _check_id("user_id", event.user_id)
    _check_enum("event_type", EventType, event.event_type)
    if not event.HasField("delivery"):
        raise MissingField("delivery")
    delivery = event.delivery  # each attribute read of a protobuf field builds a new object
    _check_enum("delivery.priority", Priority, delivery.priority)
    _check_channels(delivery.channels)
    payload = event.payload
    if len(payload) > limits.max_payload_bytes:
        raise TooLarge(
            "payload", len(payload), "NOTIFY_MAX_PAYLOAD_BYTES", limits.max_payload_bytes
        )
    return parse_payload(payload)
