"""The durable per-event delivery log: one JSON entry per attempt (channel, outcome, detail, time)."""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["DeliveryLog"]


class DeliveryLog:
    """Append-only list per event, kept as long as the claim."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def append(
        self,
        user_id: str,
        event_id: str,
        entry: dict[str, Any],
        pipe: redis.client.Pipeline | None = None,
    ) -> None:
        """Record one attempt (`time` is added); into `pipe` when given, else at once."""
        key = self._keys.delivery_log(user_id, event_id)
        target = pipe if pipe is not None else self._client.pipeline(transaction=True)
        target.rpush(key, json.dumps({"time": time.time(), **entry}))
        target.expire(key, CLAIM_TTL_S)
        if pipe is None:
            target.execute()

    def read(self, user_id: str, event_id: str) -> list[dict[str, Any]]:
        """Every entry, oldest first."""
        return [
            json.loads(raw)
            for raw in self._client.lrange(self._keys.delivery_log(user_id, event_id), 0, -1)
        ]
