"""The event as channels see it: the decoded UserEvent with enum names and a parsed payload."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from proto import EventType, Priority, UserEvent

__all__ = ["Notice"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One event, ready to render: names instead of enum numbers, payload as a dict."""

    user_id: str
    event_id: str
    event_type: str
    priority: str
    timestamp_ms: int = 0
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: UserEvent) -> Notice:
        """Build from a validated UserEvent (payload empty or a JSON object)."""
        # Decimal keeps a JSON number's spelling ("50000.10" stays so; float would print 50000.1).
        payload = json.loads(event.payload, parse_float=Decimal) if event.payload else {}
        return cls(
            user_id=event.user_id,
            event_id=event.event_id,
            event_type=EventType.Name(event.event_type),
            priority=Priority.Name(event.delivery.priority),
            timestamp_ms=event.timestamp,
            payload=payload if isinstance(payload, dict) else {},
        )
