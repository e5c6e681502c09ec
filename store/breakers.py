"""A circuit breaker per provider, shared by every worker: after repeated transient failures across
users, attempts on that provider are skipped (straight to the event's next channel) for a
cool-down, instead of each event waiting out its own retries against a provider that is down.

  closed     attempts go through; a transient failure (5xx, timeout, 429) counts its user in
             a window of `window_s`; failures seen by `failures` different users open the
             breaker (one user's broken webhook retried four times is not a provider down)
  open       attempts are skipped until `cooldown_s` has passed since it opened
  half-open  then one attempt (a probe) goes through: delivered or permanent closes the
             breaker, another transient failure opens it for another cool-down

One hash per provider, `breaker:<CHANNEL>`, and the set of users who saw a failure in the
window, `breaker:<CHANNEL>:users`; changed by Lua only (atomic across workers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from .keys import Keys

__all__ = ["BreakerState", "Breakers"]

# allow(KEYS[1] breaker, ARGV[1] now, ARGV[2] probe lease s) -> 'closed' | 'probe' | 'open'
_ALLOW = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'open' then return 'closed' end
local now = tonumber(ARGV[1])
if now < tonumber(redis.call('HGET', KEYS[1], 'until')) then return 'open' end
local probe = tonumber(redis.call('HGET', KEYS[1], 'probe') or 0)
if probe > now then return 'open' end
redis.call('HSET', KEYS[1], 'probe', now + tonumber(ARGV[2]))
return 'probe'
"""

# record(KEYS[1] breaker, KEYS[2] its users, ARGV[1] now, ARGV[2] 'failure'|'success',
#        ARGV[3] failures, ARGV[4] window s, ARGV[5] cooldown s, ARGV[6] user) -> the state
_RECORD = """
local now = tonumber(ARGV[1])
if ARGV[2] == 'success' then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 'closed'
end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'open' then
  if tonumber(redis.call('HGET', KEYS[1], 'probe') or 0) > 0 then
    -- the probe failed: another cool-down
    redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[5]), 'probe', 0, 'opened', now)
    redis.call('HINCRBY', KEYS[1], 'opens', 1)
  end
  return 'open'
end
local since = tonumber(redis.call('HGET', KEYS[1], 'since') or 0)
if now - since > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'since', now)
  redis.call('DEL', KEYS[2])
end
redis.call('SADD', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[4])) + 1)
local failures = redis.call('SCARD', KEYS[2])
redis.call('HSET', KEYS[1], 'failures', failures)
if failures >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened', now, 'until', now + tonumber(ARGV[5]),
             'probe', 0)
  redis.call('HINCRBY', KEYS[1], 'opens', 1)
  redis.call('DEL', KEYS[2])
  return 'open'
end
redis.call('HSET', KEYS[1], 'state', 'closed')
return 'closed'
"""


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One provider's breaker, as `notify stats` and the metrics show it."""

    channel: str
    state: str  #: closed, open (until `until`), half-open (a probe may go)
    failures: int
    until: float | None


class Breakers:
    """The breakers of every provider, in the store's Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)

    def allows(self, channel: str, probe_lease_s: float, now: float | None = None) -> str:
        """'closed' (go), 'probe' (go: the one attempt that tests a recovering provider) or
        'open' (skip to the next channel)."""
        now = time.time() if now is None else now
        result = self._allow(keys=[self._keys.breaker(channel)], args=[now, probe_lease_s])
        return result.decode() if isinstance(result, bytes) else result

    def record(
        self,
        channel: str,
        user_id: str,
        failed: bool,
        failures: int,
        window_s: float,
        cooldown_s: float,
        now: float | None = None,
    ) -> str:
        """Count one provider answer to `user_id`'s event (a transient failure, or a success
        that closes the breaker); the breaker's state after it."""
        now = time.time() if now is None else now
        key = self._keys.breaker(channel)
        result = self._record(
            keys=[key, f"{key}:users"],
            args=[now, "failure" if failed else "success", failures, window_s, cooldown_s, user_id],
        )
        return result.decode() if isinstance(result, bytes) else result

    def states(self, channels: list[str], now: float | None = None) -> list[BreakerState]:
        now = time.time() if now is None else now
        pipe = self._client.pipeline(transaction=False)
        for channel in channels:
            pipe.hgetall(self._keys.breaker(channel))
        found = []
        for channel, raw in zip(channels, pipe.execute(), strict=True):
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            until = float(fields["until"]) if fields.get("until") else None
            state = fields.get("state", "closed")
            if state == "open" and until is not None and until <= now:
                state = "half-open"
            found.append(BreakerState(channel, state, int(fields.get("failures", 0)), until))
        return found
