"""Per-process clients for the tasks, built once when a worker process starts (never per task)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from celery.signals import worker_process_init

from channels import CHANNELS, Channel, Deps
from settings import Settings
from store import Store

from .relay import publish_web

__all__ = ["get_deps"]

log = logging.getLogger(__name__)

_deps: Deps | None = None


def _provider_client(channel: Channel, settings: Settings) -> Any:
    """A channel's SDK client, or None (turned off, not configured, or configured wrongly: said
    once here)."""
    if channel.client_setting and channel.name in settings.channels_off_names:
        log.info("channel=%s off (NOTIFY_CHANNELS_OFF)", channel.name)
        return None
    try:
        client = channel.build_client(settings)
    except Exception as exc:
        log.error("channel=%s not usable: %s", channel.name, exc)
        return None
    if client is None and channel.client_setting:
        log.info("channel=%s not configured (%s unset)", channel.name, channel.client_setting)
    return client


def _build() -> Deps:
    settings = Settings()
    clients = {kind: _provider_client(channel, settings) for kind, channel in CHANNELS.items()}
    return Deps(
        settings=settings,
        store=Store(settings.redis_url, settings.key_prefix),
        http=httpx.Client(timeout=settings.provider_timeout_s, follow_redirects=False),
        publish_web=publish_web,
        clients={kind: client for kind, client in clients.items() if client is not None},
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
