"""The due set: every piece of work that waits for its time, published by the scheduler.

Nothing waits in the broker (no ETA tasks): a round to start (round 0's safety net, the next
CRITICAL round) and a link that must wait (a backoff, a provider's retry-after, the WEB ack poll)
each sit here until due. A member names the work (`round_member`, `link_member`), so writing the
same work twice keeps one entry; its JSON entry sits in a hash beside the sorted set. The
scheduler takes due members under a short lease, publishes them, then removes them: a scheduler
that dies mid-way leaves the member to come due again after the lease (at least once; the
attempts fence against duplicates). Several schedulers may run.

The removal is conditional: a published link can run and park itself again (same member, a new
due time) before its scheduler gets to remove it, so a member is removed only while its score is
still the lease the scheduler took it with.
"""

from __future__ import annotations

from typing import NamedTuple

import redis

from .keys import Keys

__all__ = ["DueWork", "Taken", "link_member", "round_member"]

#: A taken member comes due again after this long unless its taker removed it.
LEASE_S = 30.0

_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), member)
  table.insert(out, member)
  table.insert(out, redis.call('HGET', KEYS[2], member) or '')
  table.insert(out, redis.call('ZSCORE', KEYS[1], member))
end
return out
"""

# Remove a published member unless it was written again since it was taken (its score moved).
_PUBLISHED = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


class Taken(NamedTuple):
    """Work taken by a scheduler: its member, its JSON entry, and the lease score it holds."""

    member: bytes
    entry: bytes
    lease: bytes


def round_member(user_id: str, event_id: str, round_no: int) -> str:
    """The due member of one round of one event (NUL never occurs in an id)."""
    return f"round\x00{user_id}\x00{event_id}\x00{round_no}"


def link_member(user_id: str, event_id: str, round_no: int, index: int) -> str:
    """The due member of one waiting link: at most one wait per link of a round."""
    return f"link\x00{user_id}\x00{event_id}\x00{round_no}\x00{index}"


class DueWork:
    """Sorted set `due` (member -> due time) and hash `duework` (member -> JSON entry)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.due()
        self._entries = keys.due_entries()
        self._take = client.register_script(_TAKE)
        self._published = client.register_script(_PUBLISHED)

    def put(self, member: str, entry: str, at: float) -> None:
        """Add (or replace) work due at `at`."""
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._entries, member, entry)
        pipe.zadd(self._key, {member: at})
        pipe.execute()

    def take(self, now: float, limit: int = 100) -> list[Taken]:
        """Work due by `now`, leased for LEASE_S so no other scheduler takes it meanwhile. (A
        member written by the first release was its JSON entry itself, with no hash entry.)"""
        flat = list(self._take(keys=[self._key, self._entries], args=[now, LEASE_S, limit]))
        return [Taken(flat[i], flat[i + 1] or flat[i], flat[i + 2]) for i in range(0, len(flat), 3)]

    def published(self, taken: Taken) -> bool:
        """Forget work once published, unless it was written again meanwhile (then the new
        entry stays); True when it was removed."""
        keys = [self._key, self._entries]
        return bool(self._published(keys=keys, args=[taken.member, taken.lease]))

    def done(self, member: bytes | str) -> None:
        """Forget published (or unreadable) work."""
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(self._key, member)
        pipe.hdel(self._entries, member)
        pipe.execute()

    def retry_at(self, member: bytes | str, when: float) -> None:
        """Come due again at `when` (its publish failed)."""
        self._client.zadd(self._key, {member: when}, xx=True)

    def count(self) -> int:
        return int(self._client.zcard(self._key))

    def earliest(self, limit: int = 2_000) -> list[Taken]:
        """The `limit` earliest members with their JSON entries and due times (as the lease
        field), for `notify stats`; nothing is taken."""
        pairs = self._client.zrange(self._key, 0, limit - 1, withscores=True)
        if not pairs:
            return []
        entries = self._client.hmget(self._entries, [member for member, _ in pairs])
        return [
            Taken(member, entry or member, str(at).encode())
            for (member, at), entry in zip(pairs, entries, strict=True)
        ]

    def oldest(self) -> float | None:
        """The due time of the earliest member, or None when the set is empty."""
        first = self._client.zrange(self._key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None
