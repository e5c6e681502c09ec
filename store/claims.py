"""The event claim: dedup, lease, state machine and round number, each step one atomic Lua script.

States only move forward: PENDING -> QUEUED -> DELIVERED | ACK_ERROR (DESIGN.md, "Event
lifecycle"). The ingress claims and queues; `finish` (and the ingress's NORMAL fast path) writes
the final state. A resend finds the claim and replays its state instead of delivering again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["Claim", "ClaimState", "Claims", "Finalized", "Seen"]

#: How long a PENDING claim holds before a resend may take it over (ingress died mid-publish).
LEASE_MS = 5_000


class ClaimState(StrEnum):
    """Where an event stands."""

    PENDING = "PENDING"  #: claimed, chain not yet held by the broker
    QUEUED = "QUEUED"  #: the broker holds the chain
    DELIVERED = "DELIVERED"  #: final: a channel delivered
    ACK_ERROR = "ACK_ERROR"  #: final: no channel could


class Seen(StrEnum):
    """What a claim attempt found."""

    NEW = "NEW"  #: first receipt: route it
    RECLAIMED = "RECLAIMED"  #: an expired PENDING lease: route it again
    KNOWN = "KNOWN"  #: seen before: replay its state


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim as read back from Redis."""

    seen: Seen
    state: ClaimState
    received_ms: int
    delivered_via: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Finalized:
    """What `finalize` left in the claim: its final state (written now or kept from before),
    or `state` None with `why_not` "stale" (the claim is in another round) or "gone"."""

    state: ClaimState | None
    delivered_via: str = ""
    error: str = ""
    why_not: str = ""


_CLAIM = """
local now = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'PENDING', 'lease_until', now + tonumber(ARGV[2]),
             'received_ms', now, 'round', 0, 'routing_id', ARGV[4], 'ingress_id', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {'NEW', 'PENDING', tostring(now), '', ''}
end
-- A resend comes from where the container is now: later acks go there.
redis.call('HSET', KEYS[1], 'routing_id', ARGV[4], 'ingress_id', ARGV[5])
local f = redis.call('HMGET', KEYS[1], 'lease_until', 'received_ms', 'delivered_via', 'error')
if state == 'PENDING' and tonumber(f[1]) < now then
  redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2]))
  return {'RECLAIMED', 'PENDING', f[2], '', ''}
end
return {'KNOWN', state, f[2], f[3] or '', f[4] or ''}
"""

_MARK_QUEUED = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'PENDING' then
  -- Keep what it takes to start a round again, and watch the chain for signs of life.
  redis.call('HSET', KEYS[1], 'state', 'QUEUED', 'resume', ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
-- A worker may have got there first (it proves the broker held the chain): still queued.
if state == 'QUEUED' then
  redis.call('HSETNX', KEYS[1], 'resume', ARGV[1])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'state') == 'PENDING' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_FINALIZE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'round', 'delivered_via', 'error')
if not f[1] then return {'GONE', '', ''} end
if f[1] == 'DELIVERED' or f[1] == 'ACK_ERROR' then return {f[1], f[3] or '', f[4] or ''} end
if tonumber(f[2]) ~= tonumber(ARGV[4]) then return {'STALE', '', ''} end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'delivered_via', ARGV[2], 'error', ARGV[3])
return {ARGV[1], ARGV[2], ARGV[3]}
"""

_NEXT_ROUND = """
local f = redis.call('HMGET', KEYS[1], 'state', 'round')
-- PENDING too: a fast round can end before the ingress has marked its claim QUEUED.
if (f[1] ~= 'QUEUED' and f[1] ~= 'PENDING') or tonumber(f[2]) ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'round', tonumber(ARGV[1]) + 1, 'state', 'QUEUED')
-- Outbox: the next round goes into the due set in the same step, so it can never be lost
-- between advancing the round and publishing it; the scheduler publishes it when due.
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def inflight_member(user_id: str, event_id: str) -> str:
    """Member of the inflight set; NUL never occurs in an id."""
    return f"{user_id}\x00{event_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Claims:
    """Claim operations on one Redis; the batch forms take a pipeline so a burst is one round trip."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM)
        self._mark_queued = client.register_script(_MARK_QUEUED)
        self._release = client.register_script(_RELEASE)
        self._finalize = client.register_script(_FINALIZE)
        self._next_round = client.register_script(_NEXT_ROUND)

    def claim_many(
        self, items: list[tuple[str, str, bytes]], ingress_id: str, now_ms: int
    ) -> list[Claim]:
        """Claim each (user_id, event_id, routing_id) in one pipeline."""
        pipe = self._client.pipeline(transaction=False)
        for user_id, event_id, routing_id in items:
            self._claim(
                keys=[self._keys.claim(user_id, event_id)],
                args=[now_ms, LEASE_MS, CLAIM_TTL_S, routing_id.hex(), ingress_id],
                client=pipe,
            )
        return [
            Claim(Seen(_text(r[0])), ClaimState(_text(r[1])), int(r[2]), _text(r[3]), _text(r[4]))
            for r in pipe.execute()
        ]

    def mark_queued_many(self, items: list[tuple[str, str, str]], now: float) -> list[bool]:
        """PENDING -> QUEUED for each (user_id, event_id, resume) once the broker holds its chain;
        `resume` is the JSON round entry that restarts it if the chain is ever lost."""
        pipe = self._client.pipeline(transaction=False)
        for user_id, event_id, resume in items:
            self._mark_queued(
                keys=[self._keys.claim(user_id, event_id), self._keys.inflight()],
                args=[resume, now, inflight_member(user_id, event_id)],
                client=pipe,
            )
        return [bool(r) for r in pipe.execute()]

    def release(self, user_id: str, event_id: str) -> None:
        """Drop a PENDING claim whose publish failed, so the container's resend is routed anew."""
        self._release(keys=[self._keys.claim(user_id, event_id)])

    def finalize(
        self,
        user_id: str,
        event_id: str,
        state: ClaimState,
        round_no: int,
        delivered_via: str = "",
        error: str = "",
        pipe: redis.client.Pipeline | None = None,
    ) -> Finalized | None:
        """Write a final state for round `round_no`; returns what the claim holds now (None when
        queued into `pipe`). An event already final keeps what it has (a second `finish`
        replays it); a claim of another round is stale and changes nothing.
        """
        result = self._finalize(
            keys=[self._keys.claim(user_id, event_id)],
            args=[state.value, delivered_via, error, round_no],
            client=pipe or self._client,
        )
        if pipe is not None:
            return None
        state, via, error = (_text(part) for part in result)
        if state in ("STALE", "GONE"):
            return Finalized(None, why_not=state.lower())
        return Finalized(ClaimState(state), via, error)

    def advance_round(
        self, user_id: str, event_id: str, round_no: int, due_member: str, due_at: float
    ) -> bool:
        """Round N -> N+1 and `due_member` into the due set at `due_at`, atomically; False when
        another run of `finish` already did it (or the event is final)."""
        return bool(
            self._next_round(
                keys=[self._keys.claim(user_id, event_id), self._keys.due(), self._keys.inflight()],
                args=[round_no, due_member, due_at, inflight_member(user_id, event_id)],
            )
        )

    def touch(self, user_id: str, event_id: str, now: float) -> None:
        """A sign of life of the event's chain (an attempt ran)."""
        self._client.zadd(self._keys.inflight(), {inflight_member(user_id, event_id): now}, xx=True)

    def settled(self, user_id: str, event_id: str) -> None:
        """The event is final: stop watching it."""
        self._client.zrem(self._keys.inflight(), inflight_member(user_id, event_id))

    def stalled(self, before: float, limit: int = 100) -> list[tuple[str, str]]:
        """(user_id, event_id) of QUEUED events with no sign of life since `before`."""
        members = self._client.zrangebyscore(
            self._keys.inflight(), "-inf", before, start=0, num=limit
        )
        return [tuple(_text(m).split("\x00", 1)) for m in members]  # type: ignore[misc]

    def read(self, user_id: str, event_id: str) -> dict[str, str]:
        """The claim hash as text (empty when unknown)."""
        raw = self._client.hgetall(self._keys.claim(user_id, event_id))
        return {_text(k): _text(v) for k, v in raw.items()}
