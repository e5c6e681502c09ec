"""The WEB channel's two marks: when a round published the event to the user's live session,
and whether the user's browser acked it (recorded by the session server).

Keys: `webpub:{user}:<event>:<round>` (unix time of the publish, so a redelivered attempt
keeps waiting instead of publishing again) and `weback:{user}:<event>` (set once acked).
"""

from __future__ import annotations

import time

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["WebAcks"]


class WebAcks:
    """Publish times and browser acks of WEB deliveries."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def mark_published(self, user_id: str, event_id: str, round_no: int, at: float) -> None:
        """This round's publish went out at `at`."""
        key = self._keys.web_published(user_id, event_id, round_no)
        self._client.set(key, repr(at), ex=CLAIM_TTL_S)

    def published_at(self, user_id: str, event_id: str, round_no: int) -> float | None:
        """When this round published the event, or None when it has not."""
        value = self._client.get(self._keys.web_published(user_id, event_id, round_no))
        return None if value is None else float(value)

    def record_ack(self, user_id: str, event_id: str, ttl_s: int) -> None:
        """The user's browser acked the event (the session server calls this)."""
        self._client.set(self._keys.web_ack(user_id, event_id), f"{time.time():.3f}", ex=ttl_s)

    def acked(self, user_id: str, event_id: str) -> bool:
        """Has the user's browser acked this event?"""
        return bool(self._client.exists(self._keys.web_ack(user_id, event_id)))
