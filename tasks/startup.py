"""What a worker does as it starts and stops, beside its tasks: it refuses to start (one line,
exit 2) when it serves the queues of a provider channel whose credentials are unset and that
NOTIFY_CHANNELS_OFF does not turn off; it checks that the Redis it keeps
its claims in (and the broker, when it is Redis) will not lose data by eviction or by having no
persistence (a warning line, not a refusal: a test or a laptop may run an ephemeral Redis on
purpose), and it beats in the store's liveness set from its consumer's loop, so `notify stats`
and `notify alive worker` can name a worker that went quiet."""

from __future__ import annotations

import contextlib
import logging
import sys

from celery import bootsteps
from celery.signals import worker_init, worker_ready

from channels import CHANNELS
from settings import Settings
from store import BEAT_S, Store

from .app import app

__all__ = ["missing_credentials", "warn_unless_durable"]

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


def missing_credentials(settings: Settings, queues: list[str]) -> tuple[str, str, str] | None:
    """(variable, channel, queue) of the first queue served whose provider has no credentials
    and is not turned off by NOTIFY_CHANNELS_OFF; None when every served provider can send."""
    for queue in queues:
        name = queue.partition(".")[2].upper()
        channel = next((c for c in CHANNELS.values() if c.name == name), None)
        if channel is None or not channel.client_setting or name in settings.channels_off_names:
            continue
        if not getattr(settings, channel.client_setting.removeprefix("NOTIFY_").lower()):
            return channel.client_setting, name, queue
    return None


@worker_init.connect
def _providers_or_exit(sender, **_: object) -> None:
    """Before the pool starts: a provider channel this worker serves can reach its provider,
    or the worker stops here (the SystemExit passes through Celery's signal dispatch)."""
    missing = missing_credentials(Settings(), list(sender.app.amqp.queues.consume_from))
    if missing:
        variable, name, queue = missing
        print(
            f"celery: bad configuration: {variable} is unset, and this worker serves {queue} "
            f"(set it, or list {name} in NOTIFY_CHANNELS_OFF to turn the channel off)",
            file=sys.stderr,
        )
        raise SystemExit(2)


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
