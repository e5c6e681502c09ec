"""What a worker does as it starts and stops, beside its tasks: it checks that the Redis it keeps
its claims in (and the broker, when it is Redis) will not lose data by eviction or by having no
persistence (a warning line, not a refusal: a test or a laptop may run an ephemeral Redis on
purpose), and it beats in the store's liveness set while it runs, so `notify stats` can name a
worker that went quiet."""

from __future__ import annotations

import contextlib
import logging
import threading

from celery.signals import worker_ready, worker_shutdown

from settings import Settings
from store import BEAT_S, Store

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


_stop_beating = threading.Event()


@worker_ready.connect
def _on_worker_ready(sender=None, **_: object) -> None:
    settings = Settings()
    warn_unless_durable(settings, "worker")
    name = getattr(sender, "hostname", "") or "worker"
    store = Store(settings.redis_url, settings.key_prefix)

    def beat() -> None:
        while not _stop_beating.is_set():
            try:
                store.liveness.beat("worker", name)
            except Exception as exc:  # a Redis outage: said once a beat, the worker goes on
                log.warning("liveness beat failed: %s", type(exc).__name__)
            _stop_beating.wait(BEAT_S)
        with contextlib.suppress(Exception):
            store.liveness.gone("worker", name)

    threading.Thread(target=beat, name="liveness", daemon=True).start()


@worker_shutdown.connect
def _on_worker_shutdown(**_: object) -> None:
    _stop_beating.set()
