"""Building a UserEvent from names and checking it with the ingress's own rules before it leaves.

`make_event` takes enum names (or the proto's numbers), channels as names or `(name,
only_if_active)` pairs, and a payload as a builder (client/payloads.py), a dict or raw bytes.
`checked_frame` encodes it and runs `proto.validate_event`, the function the ingress runs, so a
mistake raises `proto.InvalidEvent` at the call site with the text an ACK_ERROR would carry.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from proto import (
    ChannelType,
    EventType,
    InvalidEvent,
    Limits,
    Priority,
    UserEvent,
    encode_event,
    validate_event,
)

from .payloads import Payload, payload_class_for

__all__ = ["Channels", "checked_frame", "give_up_after_s", "make_event"]

#: The service's defaults (NOTIFY_CRITICAL_DEADLINE_S, NOTIFY_NORMAL_TTL_S), plus a minute for
#: its final ACK_ERROR to arrive.
DEFAULT_CRITICAL_DEADLINE_S = 86400.0
DEFAULT_NORMAL_TTL_S = 600.0
FINAL_ACK_GRACE_S = 60.0

#: Channel preferences: names ("TELEGRAM"), numbers, or (channel, only_if_active) pairs.
Channels = Sequence[str | int | tuple[str | int, bool]]


def _enum_value(field: str, wrapper, value: str | int) -> int:
    if isinstance(value, int):
        return value  # checked against the enum by validate_event
    try:
        return wrapper.Value(value.upper())
    except ValueError:
        known = ", ".join(wrapper.keys())
        problem = f"unknown {wrapper.DESCRIPTOR.name} {value!r}; one of {known}"
        raise InvalidEvent(field, problem) from None


def _payload_bytes(event_type: int, payload: Payload | dict[str, Any] | bytes | None) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, Payload):
        expected = payload_class_for(event_type)
        if expected is not None and not isinstance(payload, expected):
            raise InvalidEvent(
                "payload",
                f"{EventType.Name(event_type)} takes {expected.__name__}, "
                f"not {type(payload).__name__}",
            )
        return payload.to_json()
    if isinstance(payload, dict):
        try:
            return json.dumps(payload, separators=(",", ":"), default=str).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidEvent("payload", f"not JSON ({exc})") from None
    return bytes(payload)


def make_event(
    user_id: str,
    event_type: str | int,
    priority: str | int,
    channels: Channels = (),
    payload: Payload | dict[str, Any] | bytes | None = None,
    event_id: str | None = None,
    timestamp_ms: int | None = None,
) -> UserEvent:
    """A UserEvent; InvalidEvent on an unknown name or a payload builder of the wrong kind.

    An empty `channels` means the service's default route for the priority."""
    kind = _enum_value("event_type", EventType, event_type)
    event = UserEvent(
        user_id=user_id,
        event_id=event_id or str(uuid.uuid4()),
        timestamp=timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        event_type=kind,
        payload=_payload_bytes(kind, payload),
    )
    event.delivery.priority = _enum_value("delivery.priority", Priority, priority)
    for index, preference in enumerate(channels):
        name, only_if_active = preference if isinstance(preference, tuple) else (preference, False)
        channel = _enum_value(f"delivery.channels[{index}].channel", ChannelType, name)
        event.delivery.channels.add(channel=channel, only_if_active=only_if_active)
    return event


def checked_frame(event: UserEvent, limits: Limits) -> bytes:
    """The event's 0x20 frame, once it passes the ingress's checks (`proto.validate_event`)."""
    frame = encode_event(event)
    validate_event(event, len(frame), limits)
    return frame


def give_up_after_s(
    event: UserEvent,
    critical_deadline_s: float = DEFAULT_CRITICAL_DEADLINE_S,
    normal_ttl_s: float = DEFAULT_NORMAL_TTL_S,
) -> float:
    """How long to keep resending `event`: its deadline or TTL, and a little grace."""
    critical = event.delivery.priority == Priority.CRITICAL
    return (critical_deadline_s if critical else normal_ttl_s) + FINAL_ACK_GRACE_S
