"""Per-process clients for the tasks, built once when a worker process starts (never per task)."""

from __future__ import annotations

import logging

import httpx
from celery.signals import worker_process_init

from channels import Deps, email, push, telegram
from settings import Settings
from store import Store

from .relay import publish_web

__all__ = ["get_deps"]

log = logging.getLogger(__name__)

_deps: Deps | None = None


def _provider_client(name: str, build, settings: Settings):
    """A provider's SDK client, or None (not configured, or configured wrongly: said once here)."""
    try:
        client = build(settings)
    except Exception as exc:
        log.error("channel=%s not usable: %s", name, exc)
        return None
    if client is None:
        log.info("channel=%s not configured", name)
    return client


def _build() -> Deps:
    settings = Settings()
    return Deps(
        settings=settings,
        store=Store(settings.redis_url, settings.key_prefix),
        http=httpx.Client(timeout=settings.provider_timeout_s, follow_redirects=False),
        publish_web=publish_web,
        sendgrid=_provider_client("email", email.build_client, settings),
        fcm=_provider_client("push", push.build_client, settings),
        telegram=_provider_client("telegram", telegram.build_client, settings),
    )


@worker_process_init.connect
def _on_worker_process_init(**_: object) -> None:
    # Each forked pool process gets its own sockets and connection pools.
    global _deps
    _deps = _build()


def get_deps() -> Deps:
    """The process's Deps (built on first use outside a prefork child, e.g. the solo pool)."""
    global _deps
    if _deps is None:
        _deps = _build()
    return _deps
