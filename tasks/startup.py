"""What a worker does as it starts and stops, beside its tasks: it checks that the Redis it keeps
its claims in (and the broker, when it is Redis) will not lose data by eviction or by having no
persistence (a warning line, not a refusal: a test or a laptop may run an ephemeral Redis on
purpose), and it beats in the store's liveness set from its consumer's loop, so `notify stats`
and `notify alive worker` can name a worker that went quiet."""

from __future__ import annotations

import contextlib
import logging

from celery import bootsteps
from celery.signals import worker_ready

from settings import Settings
from store import BEAT_S, Store

from .app import app

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


class LivenessBeat(bootsteps.StartStopStep):
    """Beats in the store's liveness set from the consumer's own event loop (its timer), so a
    worker whose loop is stuck, or that lost its broker, stops beating and shows as stale."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self._timer = None
        self._store: Store | None = None

    def start(self, consumer) -> None:
        settings = Settings()
        self._store = store = Store(settings.redis_url, settings.key_prefix, timeout_s=1.0)
        name = consumer.hostname

        def beat() -> None:
            try:
                store.liveness.beat("worker", name)
            except Exception as exc:  # a Redis outage: said once a beat, the worker goes on
                log.warning("liveness beat failed: %s", type(exc).__name__)

        beat()
        self._timer = consumer.timer.call_repeatedly(BEAT_S, beat)

    def stop(self, consumer) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def shutdown(self, consumer) -> None:
        self.stop(consumer)
        if self._store is not None:
            with contextlib.suppress(Exception):
                self._store.liveness.gone("worker", consumer.hostname)


app.steps["consumer"].add(LivenessBeat)
