"""NORMAL events held back for one digest message per user and channel (quiet hours, the flood
guard), and the flood guard's count.

  held     `digest:{user}:<channel>` hash: event id -> JSON {"until", "type", "title", "group"}
  sending  `digestlease:{user}:<channel>`: the one attempt sending that channel's digest now
  sent     `digested:{user}:<event>:<channel>` -> "<channel> <events in it> <unix time>", once
           the channel's digest that carried the event was accepted
  flood    `flood:{user}:<type>:<window>` hash: event id -> its rank among the user's events of
           that type in that window (stable: a retry of the same event keeps its rank)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["Digested", "Digests"]

# KEYS[1] flood hash; ARGV[1] event id, ARGV[2] ttl
_RANK = """
local rank = redis.call('HGET', KEYS[1], ARGV[1])
if rank then return tonumber(rank) end
rank = redis.call('HLEN', KEYS[1]) + 1
redis.call('HSET', KEYS[1], ARGV[1], rank)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return rank
"""

# KEYS[1] held hash, KEYS[2] lease, KEYS[3..] each sent event's mark; ARGV[1] lease token,
# ARGV[2] mark, ARGV[3] ttl, ARGV[4] how many were sent, then their ids, then the dropped ids.
# Marks are written even when the lease ran out: the provider accepted, so they were sent.
_END = """
local sent = tonumber(ARGV[4])
for i = 1, sent do
  redis.call('HDEL', KEYS[1], ARGV[4 + i])
  redis.call('SET', KEYS[2 + i], ARGV[2], 'EX', ARGV[3])
end
for i = 5 + sent, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class Digested:
    """The digest that carried an event: on which channel, with how many events, when."""

    channel: str
    events: int
    at: float


class Digests:
    """Held events, digest leases and the flood guard's ranks."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._rank = client.register_script(_RANK)
        self._end = client.register_script(_END)

    def flood_rank(
        self, user_id: str, event_type: str, event_id: str, window: int, ttl_s: int
    ) -> int:
        """The event's rank among the user's events of this type in flood window `window`."""
        key = self._keys.flood(user_id, event_type, window)
        return int(self._rank(keys=[key], args=[event_id, ttl_s]))

    def hold(self, user_id: str, channel: str, event_id: str, item: dict[str, Any]) -> None:
        """Keep the event (its `until` and what the digest says of it) for the channel's digest."""
        key = self._keys.digest(user_id, channel)
        pipe = self._client.pipeline(transaction=False)
        pipe.hset(key, event_id, json.dumps(item))
        pipe.expire(key, CLAIM_TTL_S)
        pipe.execute()

    def held(self, user_id: str, channel: str) -> dict[str, dict[str, Any]]:
        """Every event held for the channel's digest: event id -> its item."""
        raw = self._client.hgetall(self._keys.digest(user_id, channel))
        return {key.decode(): json.loads(value) for key, value in raw.items()}

    def state(
        self, user_id: str, channel: str, event_id: str
    ) -> tuple[Digested | None, float | None]:
        """In one round trip: the digest that carried the event (None: not sent yet), and until
        when it is held for the channel's digest (None: not held)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.get(self._keys.digested(user_id, event_id, channel))
        pipe.hget(self._keys.digest(user_id, channel), event_id)
        sent, held = pipe.execute()
        return _digested(sent), None if held is None else float(json.loads(held)["until"])

    def begin(self, user_id: str, channel: str, token: str, lease_s: float) -> bool:
        """Become the one attempt sending the channel's digest (for `lease_s` at most)."""
        key = self._keys.digest_lease(user_id, channel)
        return bool(self._client.set(key, token, nx=True, px=int(lease_s * 1000)))

    def end(
        self,
        user_id: str,
        channel: str,
        token: str,
        sent: list[str],
        dropped: list[str],
        at: float,
    ) -> None:
        """The lease ends: the events in `sent` went out in the channel's digest (accepted at
        `at`), those in `dropped` are no longer held (final already, or going on alone)."""
        keys = [self._keys.digest(user_id, channel), self._keys.digest_lease(user_id, channel)]
        keys += [self._keys.digested(user_id, event_id, channel) for event_id in sent]
        mark = f"{channel} {len(sent)} {at:.3f}"
        self._end(keys=keys, args=[token, mark, CLAIM_TTL_S, len(sent), *sent, *dropped])

    def digested(self, user_id: str, event_id: str, channel: str) -> Digested | None:
        """The channel's digest that carried the event, or None."""
        return _digested(self._client.get(self._keys.digested(user_id, event_id, channel)))


def _digested(raw: bytes | None) -> Digested | None:
    if raw is None:
        return None
    channel, events, at = raw.decode().split(" ")
    return Digested(channel, int(events), float(at))
