"""The due set: every piece of work that waits for its time, published by the scheduler.

Nothing waits in the broker (no ETA tasks): a round to start (round 0's safety net, the next
CRITICAL round) and a link that must wait (a backoff, a provider's retry-after, the WEB ack poll)
each sit here until due. A member names the work (`round_member`, `link_member`), so writing the
same work twice keeps one entry; its JSON entry sits in a hash beside the sorted set. The
scheduler takes due members under a short lease, publishes them, then removes them: a scheduler
that dies mid-way leaves the member to come due again after the lease (at least once; the
attempts fence against duplicates). Several schedulers may run.
"""

from __future__ import annotations

import redis

from .keys import Keys

__all__ = ["DueWork", "link_member", "round_member"]

#: A taken member comes due again after this long unless its taker removed it.
LEASE_S = 30.0

_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), member)
  table.insert(out, member)
  table.insert(out, redis.call('HGET', KEYS[2], member) or '')
end
return out
"""


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

    def put(self, member: str, entry: str, at: float) -> None:
        """Add (or replace) work due at `at`."""
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._entries, member, entry)
        pipe.zadd(self._key, {member: at})
        pipe.execute()

    def take(self, now: float, limit: int = 100) -> list[tuple[bytes, bytes]]:
        """(member, entry) of work due by `now`, leased for LEASE_S so no other scheduler takes
        it meanwhile. The entry is empty for a member written by the first release, whose
        member was the JSON entry itself."""
        flat = list(self._take(keys=[self._key, self._entries], args=[now, LEASE_S, limit]))
        return [(flat[i], flat[i + 1] or flat[i]) for i in range(0, len(flat), 2)]

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

    def oldest(self) -> float | None:
        """The due time of the earliest member, or None when the set is empty."""
        first = self._client.zrange(self._key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None
