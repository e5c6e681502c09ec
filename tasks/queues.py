"""Queue names: one per priority and channel, plus the ingress relay queues (docs/architecture.md).

The channel queues derive from the channel registry (`channels.CHANNELS`), plus `control`, where
`finish` and ACTIVE_SESSION resolution run. `critical.*` come first in ALL_QUEUES: with the
Redis transport's "priority" queue order a worker that serves both drains CRITICAL first. Within
a priority `control` comes first: a `finish` ends an event (its ack, its claim), so under a
backlog the events already delivered are answered before new attempts start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from channels import CHANNELS
from proto import Priority

__all__ = [
    "ALL_QUEUES",
    "CHANNEL_QUEUES",
    "CONTROL",
    "TASK_EXCHANGE",
    "WEB_PUBLISH_QUEUE",
    "ingress_queue",
    "queue_depths",
    "queue_for",
]

PRIORITY_PREFIXES = ("critical", "normal")
#: Where `finish` and ACTIVE_SESSION resolution run: not a channel of its own.
CONTROL = "control"
CHANNEL_QUEUES = (CONTROL, *(channel.name.lower() for channel in CHANNELS.values()))
ALL_QUEUES = [f"{prefix}.{name}" for prefix in PRIORITY_PREFIXES for name in CHANNEL_QUEUES]

#: The direct exchange every task queue is bound to, by its own name. Named, not left to Celery:
#: a queue without an exchange is bound to `task_default_exchange`, which Celery names after
#: `task_default_queue` ("normal.control").
TASK_EXCHANGE = "notify.tasks"

#: Shared by every ingress: whichever takes a WEB delivery publishes it on its XPUB.
WEB_PUBLISH_QUEUE = "ingress.web"


def queue_for(priority: int, channel: int | None) -> str:
    """(CRITICAL, DISCORD) -> `critical.discord`; ACTIVE_SESSION and None (finish) -> `.control`."""
    prefix = "critical" if priority == Priority.CRITICAL else "normal"
    concrete = CHANNELS.get(channel) if channel is not None else None
    return f"{prefix}.{concrete.name.lower() if concrete else CONTROL}"


def ingress_queue(ingress_id: str) -> str:
    """The queue an ingress consumes its acks from."""
    return f"ingress.{ingress_id}"


def queue_depths(queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue (ready, not yet taken by a worker): passive declares on
    one broker connection, on either broker. A queue never declared holds nothing."""
    from .app import app

    depths: dict[str, int] = {}
    with app.connection_for_read() as connection:
        channel = connection.channel()
        try:
            for queue in queues:
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except connection.channel_errors:
                    depths[queue] = 0
                    channel = connection.channel()  # RabbitMQ closed the channel (NOT_FOUND)
        finally:
            with contextlib.suppress(Exception):
                channel.close()
    return depths
