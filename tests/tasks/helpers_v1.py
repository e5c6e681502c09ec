"""What the first release (task contract version 1) published, for the tests that prove this
release still runs it."""

from __future__ import annotations

from typing import Any

from proto import EventType, Priority, UserEvent


def v1_link_jobs(
    event: UserEvent, frame_b64: str, ingress_id: str, received_ms: int, channels: list[str]
) -> list[dict[str, Any]]:
    """Each link's job of a version-1 chain over `channels`, then finish's job (the last)."""
    plan = [{"channel": name, "only_if_active": False} for name in channels]
    base = {
        "v": 1,
        "event": {
            "user_id": event.user_id,
            "event_id": event.event_id,
            "event_type": EventType.Name(event.event_type),
            "priority": Priority.Name(event.delivery.priority),
            "frame": frame_b64,
        },
        "ingress_id": ingress_id,
        "routing_id": b"gone".hex(),
        "received_ms": received_ms,
        "round": 0,
        "plan": plan,
    }
    links = [{**base, "channel": name, "only_if_active": False, "tries": 0} for name in channels]
    return [*links, base]
