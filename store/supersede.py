"""The newest event about each thing (a position, an alert, an order: proto.supersede_key), per
user, so that a newer one replaces an older one not yet delivered.

`latest:{user}:<key>` holds the newest event's id, timestamp (the container's, in ms) and
priority, for as long as claims live. A newer event takes the place (its timestamp is not
earlier); the one it replaces is returned to be finalized ACK_ERROR "superseded by <id>", unless
it is of a higher priority than the newcomer (a CRITICAL fill is never replaced by a NORMAL
update). An event that arrives with an earlier timestamp than the newest is itself replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["Supersede", "Supersessions"]

# KEYS[1] latest; ARGV[1] event id, ARGV[2] timestamp ms, ARGV[3] priority, ARGV[4] ttl s
# -> {'new'} | {'replaces', old id} | {'older', newest id}
_TAKE = """
local cur = redis.call('GET', KEYS[1])
local old_id, old_ts, old_prio
if cur then
  old_id, old_ts, old_prio = string.match(cur, '^(.-)%z(%d+)%z(%d+)$')
  if old_id == ARGV[1] then return {'new'} end
  if tonumber(ARGV[2]) < tonumber(old_ts) then
    if tonumber(ARGV[3]) <= tonumber(old_prio) then return {'older', old_id} end
    return {'new'}
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '\\0' .. ARGV[2] .. '\\0' .. ARGV[3], 'EX', ARGV[4])
if old_id and tonumber(old_prio) <= tonumber(ARGV[3]) then return {'replaces', old_id} end
return {'new'}
"""


@dataclass(frozen=True, slots=True)
class Supersede:
    """What taking the newest place decided: `replaces` names the older event this one
    replaces; `replaced_by`, the newer event that replaces this one."""

    replaces: str | None = None
    replaced_by: str | None = None


class Supersessions:
    """The newest event per (user, thing), and what each channel last showed of it."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._take = client.register_script(_TAKE)

    def take(
        self, user_id: str, key: str, event_id: str, timestamp_ms: int, priority: int
    ) -> Supersede:
        result = self._take(
            keys=[self._keys.latest(user_id, key)],
            args=[event_id, max(0, timestamp_ms), priority, CLAIM_TTL_S],
        )
        verdict = [part.decode() if isinstance(part, bytes) else part for part in result]
        if verdict[0] == "replaces":
            return Supersede(replaces=verdict[1])
        if verdict[0] == "older":
            return Supersede(replaced_by=verdict[1])
        return Supersede()

    def shown(self, user_id: str, key: str, channel: str) -> str | None:
        """The receipt of the message `channel` last showed about this thing (to edit it)."""
        value = self._client.get(self._keys.shown(user_id, key, channel))
        return value.decode() if value is not None else None

    def show(self, user_id: str, key: str, channel: str, receipt: str) -> None:
        self._client.set(self._keys.shown(user_id, key, channel), receipt, ex=CLAIM_TTL_S)
