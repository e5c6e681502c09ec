"""Which long-running processes are alive: each worker, scheduler and Telegram bot beats
every few seconds (the bot: once per answered poll), so `notify stats` and the metrics can name one that went quiet (stale) or is gone (dead)."""

from __future__ import annotations

import os
import socket
import time

import redis

from .keys import Keys

__all__ = ["BEAT_S", "DEAD_AFTER_S", "STALE_AFTER_S", "Liveness", "this_process"]

#: How often a process beats.
BEAT_S = 5.0
#: Silent this long: stale (busy, or on its way out); this long: dead, and forgotten after an hour.
STALE_AFTER_S = 3 * BEAT_S
DEAD_AFTER_S = 12 * BEAT_S
FORGET_AFTER_S = 3600.0


def this_process() -> str:
    """The name a process beats under: host and pid (a host name alone repeats in compose)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Liveness:
    """Sorted set `processes`: "kind:name" -> last beat (unix s)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.processes()

    def beat(self, kind: str, name: str, now: float | None = None) -> None:
        self._client.zadd(self._key, {f"{kind}:{name}": now or time.time()})

    def gone(self, kind: str, name: str) -> None:
        """A clean stop: not dead, just gone."""
        self._client.zrem(self._key, f"{kind}:{name}")

    def seen(self, now: float | None = None) -> dict[str, dict[str, float]]:
        """kind -> {name: seconds since its last beat}; the long dead are dropped."""
        now = now or time.time()
        self._client.zremrangebyscore(self._key, "-inf", now - FORGET_AFTER_S)
        found: dict[str, dict[str, float]] = {}
        for member, at in self._client.zrange(self._key, 0, -1, withscores=True):
            text = member.decode() if isinstance(member, bytes) else member
            kind, _, name = text.partition(":")
            found.setdefault(kind, {})[name] = max(0.0, now - at)
        return found
