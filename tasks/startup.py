"""What a worker checks as it starts: that the Redis it keeps its claims in (and the broker,
when it is Redis) will not lose data by eviction or by having no persistence. A problem is a
warning line, not a refusal: a test or a laptop may run an ephemeral Redis on purpose."""

from __future__ import annotations

import logging

from celery.signals import worker_ready

from settings import Settings
from store import Store

__all__ = ["warn_unless_durable"]

log = logging.getLogger(__name__)


def warn_unless_durable(settings: Settings, process: str) -> list[str]:
    """Log one warning line per problem of the store's and the broker's Redis; returns them."""
    urls = {"store": settings.redis_url}
    if settings.broker_is_redis:
        urls["broker"] = settings.celery_broker_url
    found = []
    for role, url in urls.items():
        for problem in Store(url, settings.key_prefix).durability_problems():
            found.append(f"{role} Redis: {problem}")
            log.warning(
                "%s: %s Redis %s (docs/reliability.md, production settings)", process, role, problem
            )
    return found


@worker_ready.connect
def _on_worker_ready(**_: object) -> None:
    warn_unless_durable(Settings(), "worker")
