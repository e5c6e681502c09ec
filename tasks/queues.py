"""Queue names: one per priority and channel, plus the ingress relay queues (DESIGN.md, "Queues").

`critical.*` come first in ALL_QUEUES: with the Redis transport's "priority" queue order a
worker that serves both drains CRITICAL first.
"""

from __future__ import annotations

__all__ = ["ALL_QUEUES", "WEB_PUBLISH_QUEUE", "ingress_queue", "queue_for"]

PRIORITY_PREFIXES = ("critical", "normal")
CHANNEL_QUEUES = ("web", "telegram", "email", "push", "discord", "slack", "control")
ALL_QUEUES = [f"{prio}.{name}" for prio in PRIORITY_PREFIXES for name in CHANNEL_QUEUES]

#: Shared by every ingress: whichever takes a WEB delivery publishes it on its XPUB.
WEB_PUBLISH_QUEUE = "ingress.web"


def queue_for(priority: str, channel: str) -> str:
    """`CRITICAL`, `DISCORD` -> `critical.discord`; ACTIVE_SESSION and finish run on `.control`."""
    prefix = "critical" if priority == "CRITICAL" else "normal"
    name = "control" if channel in ("ACTIVE_SESSION", "CONTROL") else channel.lower()
    return f"{prefix}.{name}"


def ingress_queue(ingress_id: str) -> str:
    """The queue an ingress consumes its acks from."""
    return f"ingress.{ingress_id}"
