"""Which events are about the same thing, so a newer one replaces an older one not yet delivered:
a POSITION_UPDATED by its `position_id`, an ALERT_TRIGGERED by its `alert_id`, any ORDER_* by
its `order_id` (from the proto's payload messages). Other events never supersede."""

from __future__ import annotations

from typing import Any

from .user_events_pb2 import EventType

__all__ = ["SUPERSEDING_TYPES", "supersede_key"]

_BY_TYPE = {
    EventType.POSITION_UPDATED: ("position", "position_id"),
    EventType.ALERT_TRIGGERED: ("alert", "alert_id"),
    **{t: ("order", "order_id") for t in (
        EventType.ORDER_PLACED, EventType.ORDER_FILLED, EventType.ORDER_CANCELLED,
        EventType.ORDER_REJECTED, EventType.ORDER_EXPIRED,
    )},
}  # fmt: skip
#: The event types that may replace earlier events.
SUPERSEDING_TYPES = frozenset(_BY_TYPE)
#: Longest identifier kept in a key (a payload may carry any string).
MAX_ID_CHARS = 128


def supersede_key(event_type: int, payload: dict[str, Any]) -> str | None:
    """`position:<id>`, `alert:<id>` or `order:<id>` for an event that replaces earlier ones
    about the same thing; None for any other event, or one without the identifying field."""
    kind = _BY_TYPE.get(event_type)
    if kind is None:
        return None
    value = payload.get(kind[1])
    if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
        return None
    return f"{kind[0]}:{str(value)[:MAX_ID_CHARS]}"
