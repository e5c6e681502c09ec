"""Who has a live session: each ingress mirrors its XPUB presence flags into its own Redis set.

The set expires unless its ingress refreshes it, so a dead ingress's presence disappears; an
ingress clears its set when it starts. Readers (workers) ask every live ingress's set.
"""

from __future__ import annotations

import time

import redis

from .keys import Keys

__all__ = ["PRESENCE_TTL_S", "Presence"]

#: Lifetime of an ingress's presence set; the ingress refreshes it about every third of this.
PRESENCE_TTL_S = 30


class Presence:
    """Presence mirror in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def reset(self, ingress_id: str) -> None:
        """Forget what a previous run of this ingress left behind."""
        self._client.delete(self._keys.presence(ingress_id))
        self.refresh(ingress_id, set())

    def refresh(self, ingress_id: str, users: set[str]) -> None:
        """Rewrite this ingress's set from its local flags and push its expiry out."""
        key = self._keys.presence(ingress_id)
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(key)
        if users:
            pipe.sadd(key, *users)
            pipe.expire(key, PRESENCE_TTL_S)
        pipe.zadd(self._keys.ingresses(), {ingress_id: time.time()})
        pipe.execute()

    def set_present(self, ingress_id: str, user_id: str, present: bool) -> None:
        """Mirror one first-subscribe / last-unsubscribe."""
        self.apply(ingress_id, {user_id: present})

    def apply(self, ingress_id: str, changes: dict[str, bool]) -> None:
        """Mirror a drained batch of presence changes (user -> live) in one round trip."""
        key = self._keys.presence(ingress_id)
        joined = [user for user, live in changes.items() if live]
        left = [user for user, live in changes.items() if not live]
        pipe = self._client.pipeline(transaction=True)
        if left:
            pipe.srem(key, *left)
        if joined:
            pipe.sadd(key, *joined)
            pipe.expire(key, PRESENCE_TTL_S)
        pipe.execute()

    def is_present(self, user_id: str) -> bool:
        """True when some live ingress has a subscriber on the user's topic."""
        alive_since = time.time() - PRESENCE_TTL_S
        ingress_ids = self._client.zrangebyscore(self._keys.ingresses(), alive_since, "+inf")
        if not ingress_ids:
            return False
        pipe = self._client.pipeline(transaction=False)
        for ingress_id in ingress_ids:
            name = ingress_id.decode() if isinstance(ingress_id, bytes) else ingress_id
            pipe.sismember(self._keys.presence(name), user_id)
        return any(pipe.execute())
