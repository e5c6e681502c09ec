"""The due set: CRITICAL rounds waiting for their time, published by the scheduler.

`finish` adds a round atomically with advancing the claim's round number (store/claims.py), so a
round is never lost between the two. The scheduler takes due entries under a short lease,
publishes them, then removes them: a scheduler that dies mid-way leaves the entry to come due
again after the lease (at least once; `finish` compares round numbers, so a duplicate is harmless).
"""

from __future__ import annotations

import redis

from .keys import Keys

__all__ = ["DueRounds"]

#: A taken entry comes due again after this long unless its taker removed it.
LEASE_S = 30.0

_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), member)
end
return due
"""


class DueRounds:
    """Sorted set `due`: member = JSON of the round to start, score = unix time it is due."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.due()
        self._take = client.register_script(_TAKE)

    def take(self, now: float, limit: int = 100) -> list[bytes]:
        """Entries due by `now`, leased for LEASE_S so no other scheduler takes them meanwhile."""
        return list(self._take(keys=[self._key], args=[now, LEASE_S, limit]))

    def done(self, member: bytes) -> None:
        """Forget a published entry."""
        self._client.zrem(self._key, member)

    def retry_at(self, member: bytes, when: float) -> None:
        """Come due again at `when` (its publish failed)."""
        self._client.zadd(self._key, {member: when}, xx=True)

    def count(self) -> int:
        return int(self._client.zcard(self._key))
