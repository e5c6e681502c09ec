"""NORMAL events held back for one digest message per user and channel (quiet hours, the flood
guard), and the flood guard's count.

  held     `digest:{user}:<channel>` hash: event id -> JSON {"until", "type", "title", "group"}
  sending  `digestlease:{user}:<channel>`: the one attempt sending that channel's digest now
  sent     `digested:{user}:<event>` -> "<channel> <events in it> <unix time>", once the digest
           that carried the event was accepted
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

# KEYS[1] held hash, KEYS[2] lease; KEYS[3..] each event's sent key;
# ARGV[1] lease token, ARGV[2] sent value, ARGV[3] ttl, ARGV[4..] event ids
_SENT = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
for i = 4, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('SET', KEYS[i - 1], ARGV[2], 'EX', ARGV[3])
end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS[1] lease; ARGV[1] token
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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
        self._sent = client.register_script(_SENT)
        self._release = client.register_script(_RELEASE)

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
        pipe.get(self._keys.digested(user_id, event_id))
        pipe.hget(self._keys.digest(user_id, channel), event_id)
        sent, held = pipe.execute()
        return _digested(sent), None if held is None else float(json.loads(held)["until"])

    def begin(self, user_id: str, channel: str, token: str, lease_s: float) -> bool:
        """Become the one attempt sending the channel's digest (for `lease_s` at most)."""
        key = self._keys.digest_lease(user_id, channel)
        return bool(self._client.set(key, token, nx=True, px=int(lease_s * 1000)))

    def end(self, user_id: str, channel: str, token: str, sent: list[str], at: float) -> bool:
        """The digest carrying `sent` was accepted (empty: it was not): those events are sent,
        no longer held; the lease ends. False when the lease had already run out."""
        if not sent:
            self._release(keys=[self._keys.digest_lease(user_id, channel)], args=[token])
            return True
        keys = [self._keys.digest(user_id, channel), self._keys.digest_lease(user_id, channel)]
        keys += [self._keys.digested(user_id, event_id) for event_id in sent]
        value = f"{channel} {len(sent)} {at:.3f}"
        return bool(self._sent(keys=keys, args=[token, value, CLAIM_TTL_S, *sent]))

    def digested(self, user_id: str, event_id: str) -> Digested | None:
        """The digest that carried the event, or None."""
        return _digested(self._client.get(self._keys.digested(user_id, event_id)))


def _digested(raw: bytes | None) -> Digested | None:
    if raw is None:
        return None
    channel, events, at = raw.decode().split(" ")
    return Digested(channel, int(events), float(at))
