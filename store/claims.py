"""The event claim: dedup, state machine, round number, outbox and fences, each step one atomic
Lua script.

States only move forward: PENDING -> QUEUED -> DELIVERED | ACK_ERROR (docs/reliability.md).
The claim holds the event's current round; every step checks it:

* `claim_many` (ingress): a new event is PENDING, and its round 0 goes into the due set in the
  same step (the outbox), so a crash before the ingress marks it QUEUED never loses it and a
  resend never starts a second chain: the scheduler publishes an outbox entry left unmarked.
* `mark_queued_many` (ingress, scheduler): the broker holds round 0; its outbox entry goes.
* `touch` / `begin_send` (attempts): the event is not final and the round is current; before a
  provider call, atomically, no channel accepted it yet and this attempt holds the send lease.
* `park` / `advance_round` (attempts, finish): a wait or the next round into the due set, only
  while the event is open and in that round.
* `finalize` (finish, the fast path) and `expire` (the deadline sweep) write the final state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import redis

from .due import link_member, round_member
from .keys import CLAIM_TTL_S, Keys

__all__ = ["Claim", "ClaimState", "Claims", "Fence", "Finalized", "Seen", "open_member"]

#: How long a PENDING claim of the first release holds before a resend may take it over.
LEASE_MS = 5_000
#: Round 0's outbox entry is published by the scheduler if the ingress has not marked it
#: QUEUED this long after the claim (the ingress publishes at once; this is the safety net).
OUTBOX_GRACE_S = 3.0


class ClaimState(StrEnum):
    """Where an event stands."""

    PENDING = "PENDING"  #: claimed, chain not yet held by the broker
    QUEUED = "QUEUED"  #: the broker holds the chain
    DELIVERED = "DELIVERED"  #: final: a channel delivered
    ACK_ERROR = "ACK_ERROR"  #: final: no channel could


class Seen(StrEnum):
    """What a claim attempt found."""

    NEW = "NEW"  #: first receipt: route it
    LIMITED = "LIMITED"  #: first receipt, but the user has too many events in flight: refuse
    RECLAIMED = "RECLAIMED"  #: a first-release PENDING claim with no outbox entry: route again
    KNOWN = "KNOWN"  #: seen before: replay its state


class Fence(StrEnum):
    """What an attempt found when it checked its event (`touch`, `begin_send`)."""

    OK = "OK"  #: go on (begin_send: this attempt holds the send lease)
    FINAL = "FINAL"  #: the event is DELIVERED or ACK_ERROR: do nothing
    STALE = "STALE"  #: the event is in another round: this chain is obsolete
    GONE = "GONE"  #: no claim (expired, or never made)
    ACCEPTED = "ACCEPTED"  #: a provider already accepted it on this channel (`detail`: receipt)
    ELSEWHERE = "ELSEWHERE"  #: another channel already accepted it (`detail`: that channel)
    BUSY = "BUSY"  #: another attempt is calling a provider for it now (`detail`: ms left)


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
    """What `finalize` left in the claim: its final state (written now or kept from before) and
    where the container is (its ingress and routing id), or `state` None with `why_not`
    "stale" (the claim is in another round) or "gone"."""

    state: ClaimState | None
    delivered_via: str = ""
    error: str = ""
    why_not: str = ""
    ingress_id: str = ""
    routing_id: bytes = b""
    #: Written by this call (False: a second `finish` found it final and replays it).
    now: bool = False


def open_member(user_id: str, event_id: str) -> str:
    """Member of the inflight and open sets; NUL never occurs in an id."""
    return f"{user_id}\x00{event_id}"


_CLAIM = """
local now = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  -- The user's events in flight, capped: one user cannot fill Redis with claims.
  if tonumber(redis.call('GET', KEYS[5]) or 0) >= tonumber(ARGV[10]) then
    return {'LIMITED', 'PENDING', tostring(now), '', ''}
  end
  redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], ARGV[3])
  redis.call('HSET', KEYS[1], 'state', 'PENDING', 'lease_until', now + tonumber(ARGV[2]),
             'received_ms', now, 'round', 0, 'routing_id', ARGV[4], 'ingress_id', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  -- The outbox: round 0 is in the due set before anything is published.
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[6])
  redis.call('ZADD', KEYS[4], now / 1000, ARGV[9])
  return {'NEW', 'PENDING', tostring(now), '', ''}
end
-- A resend comes from where the container is now: later acks go there.
redis.call('HSET', KEYS[1], 'routing_id', ARGV[4], 'ingress_id', ARGV[5])
local f = redis.call('HMGET', KEYS[1], 'lease_until', 'received_ms', 'delivered_via', 'error')
if state == 'PENDING' and tonumber(f[1]) < now and redis.call('HEXISTS', KEYS[3], ARGV[6]) == 0
then
  redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2]))
  return {'RECLAIMED', 'PENDING', f[2], '', ''}
end
return {'KNOWN', state, f[2], f[3] or '', f[4] or ''}
"""

_MARK_QUEUED = """
local state = redis.call('HGET', KEYS[1], 'state')
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('HDEL', KEYS[4], ARGV[4])
if state == 'PENDING' then
  -- Keep what it takes to start a round again, and watch the chain for signs of life.
  redis.call('HSET', KEYS[1], 'state', 'QUEUED', 'resume', ARGV[1], 'queued_at', ARGV[2],
             'claimed_at', ARGV[5])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
-- A worker may have got there first (it proves the broker held the chain): still queued.
if state == 'QUEUED' then
  redis.call('HSETNX', KEYS[1], 'resume', ARGV[1])
  redis.call('HSETNX', KEYS[1], 'queued_at', ARGV[2])
  return 1
end
-- Or even finished it, before this mark: the chain was queued all the same, and the QUEUED ack
-- still goes out before the final one (the ingress writes relayed acks after this batch).
if state == 'DELIVERED' or state == 'ACK_ERROR' then
  redis.call('HSETNX', KEYS[1], 'queued_at', ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'state') == 'PENDING' then
  if tonumber(redis.call('GET', KEYS[5]) or 0) > 0 then redis.call('DECR', KEYS[5]) end
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_FINALIZE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'round', 'delivered_via', 'error',
                     'ingress_id', 'routing_id')
if not f[1] then return {'GONE', '', '', '', '', '0'} end
local now = '0'
if f[1] ~= 'DELIVERED' and f[1] ~= 'ACK_ERROR' then
  if tonumber(f[2]) ~= tonumber(ARGV[4]) then return {'STALE', '', '', '', '', '0'} end
  -- Superseding waits for no one: an event a provider is being called for, or has accepted
  -- (its attempt is about to finish it DELIVERED), is left alone.
  if KEYS[6] and (redis.call('EXISTS', KEYS[6]) == 1
                  or (redis.call('HGET', KEYS[1], 'accepted_via') or '') ~= '') then
    return {'BUSY', '', '', '', '', '0'}
  end
  now = '1'
  redis.call('HSET', KEYS[1], 'state', ARGV[1], 'delivered_via', ARGV[2], 'error', ARGV[3],
             'final_at', ARGV[6])
  f[1], f[3], f[4] = ARGV[1], ARGV[2], ARGV[3]
  if tonumber(redis.call('GET', KEYS[5]) or 0) > 0 then redis.call('DECR', KEYS[5]) end
end
-- Final: nothing watches it any more.
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('ZREM', KEYS[4], ARGV[5])
return {f[1], f[3] or '', f[4] or '', f[5] or '', f[6] or '', now}
"""

_EXPIRE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'ingress_id', 'routing_id')
if f[1] == 'PENDING' or f[1] == 'QUEUED' then
  redis.call('HSET', KEYS[1], 'state', 'ACK_ERROR', 'error', ARGV[1], 'final_at', ARGV[2])
  if tonumber(redis.call('GET', KEYS[2]) or 0) > 0 then redis.call('DECR', KEYS[2]) end
  return {f[2] or '', f[3] or ''}
end
return false
"""

_HOLD = """
local f = redis.call('HMGET', KEYS[1], 'state', 'ingress_id', 'routing_id')
if f[1] ~= 'PENDING' and f[1] ~= 'QUEUED' then return false end
redis.call('ZADD', KEYS[2], 'XX', 'GT', ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) end
return {f[2] or '', f[3] or ''}
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
redis.call('HSET', KEYS[3], ARGV[5], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
return 1
"""

#: The event is open and in round ARGV[1]; else why not. Shared head of the fences below.
_OPEN_IN_ROUND = """
local f = redis.call('HMGET', KEYS[1], 'state', 'round', 'accepted_via')
if not f[1] then return {'GONE', ''} end
if f[1] == 'DELIVERED' or f[1] == 'ACK_ERROR' then return {'FINAL', ''} end
if tonumber(f[2]) ~= tonumber(ARGV[1]) then return {'STALE', ''} end
"""

_TOUCH = (
    _OPEN_IN_ROUND
    + """
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[3])
return {'OK', ''}
"""
)

_PARK = (
    _OPEN_IN_ROUND
    + """
redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
-- A parked chain is alive until it comes due: the stall sweep must not take it for lost.
redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[5])
return {'OK', ''}
"""
)

_BEGIN_SEND = (
    _OPEN_IN_ROUND
    + """
local receipt = redis.call('GET', KEYS[3])
if receipt then return {'ACCEPTED', receipt} end
-- An event that waits for a person's acknowledgement goes on after a provider accepted it.
if f[3] and f[3] ~= '' and ARGV[4] ~= '1' then return {'ELSEWHERE', f[3]} end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'OK', ''} end
return {'BUSY', tostring(redis.call('PTTL', KEYS[2]))}
"""
)

_END_SEND = """
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[4])
  redis.call('HSET', KEYS[1], 'accepted_via', ARGV[3])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""


#: A claim's states before its final one.
_OPEN_STATES = (b"PENDING", b"QUEUED")


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
        self._expire = client.register_script(_EXPIRE)
        self._hold = client.register_script(_HOLD)
        self._next_round = client.register_script(_NEXT_ROUND)
        self._touch = client.register_script(_TOUCH)
        self._park = client.register_script(_PARK)
        self._begin_send = client.register_script(_BEGIN_SEND)
        self._end_send = client.register_script(_END_SEND)

    def _open_key(self, critical: bool) -> str:
        return self._keys.open_events(critical)

    def claim_many(
        self,
        items: list[tuple[str, str, bytes, bool, str]],
        ingress_id: str,
        now_ms: int,
        max_live: int = 1_000_000,
    ) -> list[Claim]:
        """Claim each (user_id, event_id, routing_id, critical, round-0 entry) in one pipeline;
        a new one's entry goes into the due set, due OUTBOX_GRACE_S from now. A new event of a
        user with `max_live` events in flight already is LIMITED (and not claimed)."""
        pipe = self._client.pipeline(transaction=False)
        due_at = now_ms / 1000 + OUTBOX_GRACE_S
        for user_id, event_id, routing_id, critical, entry in items:
            self._claim(
                keys=[
                    self._keys.claim(user_id, event_id),
                    self._keys.due(),
                    self._keys.due_entries(),
                    self._open_key(critical),
                    self._keys.live_claims(user_id),
                ],
                args=[
                    now_ms,
                    LEASE_MS,
                    CLAIM_TTL_S,
                    routing_id.hex(),
                    ingress_id,
                    round_member(user_id, event_id, 0),
                    entry,
                    due_at,
                    open_member(user_id, event_id),
                    max_live,
                ],
                client=pipe,
            )
        return [
            Claim(Seen(_text(r[0])), ClaimState(_text(r[1])), int(r[2]), _text(r[3]), _text(r[4]))
            for r in pipe.execute()
        ]

    def mark_queued_many(
        self, items: list[tuple[str, str, str]], now: float, claimed_at: float | None = None
    ) -> list[bool]:
        """PENDING -> QUEUED for each (user_id, event_id, resume) once the broker holds its
        round 0, whose outbox entry goes (True also when a worker got further first: QUEUED,
        or already final; False for a claim that is gone); `resume` is the JSON round entry
        that restarts it if the chain is ever lost. `now` and `claimed_at` (when the claims
        were written) are kept as latency receipts (`notify trace`)."""
        pipe = self._client.pipeline(transaction=False)
        for user_id, event_id, resume in items:
            self._mark_queued(
                keys=[
                    self._keys.claim(user_id, event_id),
                    self._keys.inflight(),
                    self._keys.due(),
                    self._keys.due_entries(),
                ],
                args=[
                    resume,
                    now,
                    open_member(user_id, event_id),
                    round_member(user_id, event_id, 0),
                    now if claimed_at is None else claimed_at,
                ],
                client=pipe,
            )
        return [bool(r) for r in pipe.execute()]

    def release(self, user_id: str, event_id: str, critical: bool) -> None:
        """Drop a PENDING claim whose publish failed, and its outbox entry, so the container's
        resend is routed anew."""
        self._release(
            keys=[
                self._keys.claim(user_id, event_id),
                self._keys.due(),
                self._keys.due_entries(),
                self._open_key(critical),
                self._keys.live_claims(user_id),
            ],
            args=[round_member(user_id, event_id, 0), open_member(user_id, event_id)],
        )

    def finalize(
        self,
        user_id: str,
        event_id: str,
        state: ClaimState,
        round_no: int,
        delivered_via: str = "",
        error: str = "",
        pipe: redis.client.Pipeline | None = None,
        unless_sending: bool = False,
    ) -> Finalized | None:
        """Write a final state for round `round_no` and stop watching the event; returns what the
        claim holds now (None when queued into `pipe`). An event already final keeps what it has
        (a second `finish` replays it); a claim of another round is stale and changes nothing;
        with `unless_sending`, one whose send lease is held (a provider is being called) or that
        a provider accepted is left as it is ("busy")."""
        keys = [
            self._keys.claim(user_id, event_id),
            self._keys.inflight(),
            self._open_key(True),
            self._open_key(False),
            self._keys.live_claims(user_id),
        ]
        if unless_sending:
            keys.append(self._keys.send_lease(user_id, event_id))
        result = self._finalize(
            keys=keys,
            args=[
                state.value,
                delivered_via,
                error,
                round_no,
                open_member(user_id, event_id),
                time.time(),
            ],
            client=pipe or self._client,
        )
        if pipe is not None:
            return None
        state_text, via, error_text, ingress_id, routing_hex, now = (_text(p) for p in result)
        if state_text in ("STALE", "GONE", "BUSY"):
            return Finalized(None, why_not=state_text.lower())
        routing_id = bytes.fromhex(routing_hex) if routing_hex else b""
        return Finalized(
            ClaimState(state_text), via, error_text, "", ingress_id, routing_id, now == "1"
        )

    def expire(self, user_id: str, event_id: str, error: str) -> tuple[str, bytes] | None:
        """ACK_ERROR for an event still open past its deadline or TTL; (ingress id, routing id)
        to ack it to, or None when it was final already."""
        where = self._expire(
            keys=[self._keys.claim(user_id, event_id), self._keys.live_claims(user_id)],
            args=[error, time.time()],
        )
        if not where:
            return None
        return _text(where[0]), bytes.fromhex(_text(where[1]))

    def hold(
        self, user_id: str, event_id: str, until: float, note: str = ""
    ) -> tuple[str, bytes] | None:
        """A NORMAL event held for a digest until `until`: its TTL counts from then (the sweep
        reads the open set's score as its start); `note`, what a resend's QUEUED replay says
        (kept in the claim's error field, which the final state overwrites). Returns (ingress
        id, routing id) to tell the container, or None when the event is no longer open."""
        where = self._hold(
            keys=[self._keys.claim(user_id, event_id), self._open_key(False)],
            args=[until, open_member(user_id, event_id), note],
        )
        if not where or not where[0]:
            return None
        return _text(where[0]), bytes.fromhex(_text(where[1]))

    def still_open(self, user_id: str, event_ids: list[str]) -> set[str]:
        """Those of the user's events that are not final yet."""
        pipe = self._client.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.hget(self._keys.claim(user_id, event_id), "state")
        states = pipe.execute()
        return {e for e, state in zip(event_ids, states, strict=True) if state in _OPEN_STATES}

    def advance_round(
        self, user_id: str, event_id: str, round_no: int, entry: str, due_at: float
    ) -> bool:
        """Round N -> N+1 and its entry into the due set at `due_at`, atomically; False when
        another run of `finish` already did it (or the event is final)."""
        return bool(
            self._next_round(
                keys=[
                    self._keys.claim(user_id, event_id),
                    self._keys.due(),
                    self._keys.due_entries(),
                    self._keys.inflight(),
                ],
                args=[
                    round_no,
                    entry,
                    due_at,
                    open_member(user_id, event_id),
                    round_member(user_id, event_id, round_no + 1),
                ],
            )
        )

    def touch(self, user_id: str, event_id: str, round_no: int, now: float) -> Fence:
        """A sign of life of the event's chain; OK unless the event is final, gone or in
        another round (then this chain must stop)."""
        result = self._touch(
            keys=[self._keys.claim(user_id, event_id), self._keys.inflight()],
            args=[round_no, now, open_member(user_id, event_id)],
        )
        return Fence(_text(result[0]))

    def park(
        self, user_id: str, event_id: str, round_no: int, index: int, entry: str, due_at: float
    ) -> Fence:
        """Put a waiting link (its JSON entry) into the due set at `due_at`, only while the
        event is open and in `round_no`; one wait per link: writing it again replaces it."""
        result = self._park(
            keys=[
                self._keys.claim(user_id, event_id),
                self._keys.inflight(),
                self._keys.due(),
                self._keys.due_entries(),
            ],
            args=[
                round_no,
                link_member(user_id, event_id, round_no, index),
                entry,
                due_at,
                open_member(user_id, event_id),
            ],
        )
        return Fence(_text(result[0]))

    def begin_send(
        self,
        user_id: str,
        event_id: str,
        round_no: int,
        channel: str,
        token: str,
        lease_s: float,
        after_acceptance: bool = False,
    ) -> tuple[Fence, str]:
        """Before a provider call, in one step: the event is open and in `round_no`, no provider
        accepted it yet (unless `after_acceptance`: an event that waits for a person's
        acknowledgement is sent on after one did), and this attempt (`token`) takes the event's
        send lease for `lease_s`. Returns the fence and its detail (a receipt, a channel, or
        the lease's ms left). `channel` names the channel claim: one send per channel."""
        result = self._begin_send(
            keys=[
                self._keys.claim(user_id, event_id),
                self._keys.send_lease(user_id, event_id),
                self._keys.channel_claim(user_id, event_id, channel),
            ],
            args=[round_no, token, int(lease_s * 1000), "1" if after_acceptance else ""],
        )
        return Fence(_text(result[0])), _text(result[1])

    def end_send(
        self, user_id: str, event_id: str, channel: str, token: str, receipt: str | None
    ) -> None:
        """After the provider call: when it accepted (`receipt` not None) the channel claim and
        the claim's `accepted_via` are written first; then this attempt's lease goes."""
        self._end_send(
            keys=[
                self._keys.claim(user_id, event_id),
                self._keys.send_lease(user_id, event_id),
                self._keys.channel_claim(user_id, event_id, channel),
            ],
            args=[token, "" if receipt is None else (receipt or "1"), channel, CLAIM_TTL_S],
        )

    def settled(self, user_id: str, event_id: str) -> None:
        """The event is final: stop watching it."""
        member = open_member(user_id, event_id)
        pipe = self._client.pipeline(transaction=False)
        pipe.zrem(self._keys.inflight(), member)
        pipe.zrem(self._open_key(True), member)
        pipe.zrem(self._open_key(False), member)
        pipe.execute()

    def stalled(self, before: float, limit: int = 100) -> list[tuple[str, str]]:
        """(user_id, event_id) of QUEUED events with no sign of life since `before`."""
        members = self._client.zrangebyscore(
            self._keys.inflight(), "-inf", before, start=0, num=limit
        )
        return [tuple(_text(m).split("\x00", 1)) for m in members]  # type: ignore[misc]

    def past(
        self, critical: bool, received_before: float, limit: int = 100
    ) -> list[tuple[str, str]]:
        """(user_id, event_id) of open events received before `received_before` (unix s)."""
        members = self._client.zrangebyscore(
            self._open_key(critical), "-inf", received_before, start=0, num=limit
        )
        return [tuple(_text(m).split("\x00", 1)) for m in members]  # type: ignore[misc]

    def open_counts(self) -> dict[str, tuple[int, float | None]]:
        """Per priority ("critical", "normal"): how many events are open, and the receipt time
        of the oldest (None when none is)."""
        counts = {}
        for critical in (True, False):
            key = self._open_key(critical)
            first = self._client.zrange(key, 0, 0, withscores=True)
            oldest = float(first[0][1]) if first else None
            counts["critical" if critical else "normal"] = (int(self._client.zcard(key)), oldest)
        return counts

    def read(self, user_id: str, event_id: str) -> dict[str, str]:
        """The claim hash as text (empty when unknown)."""
        raw = self._client.hgetall(self._keys.claim(user_id, event_id))
        return {_text(k): _text(v) for k, v in raw.items()}

    def users_of(self, event_id: str, limit: int = 10) -> list[str]:
        """The users with a claim on `event_id` (claims are per user), found by a key scan:
        for an operator's look-up, not for a hot path."""
        found = []
        for key in self._client.scan_iter(match=self._keys.claim("*", event_id), count=1000):
            text = _text(key)
            found.append(text[text.index("{") + 1 : text.rindex("}")])
            if len(found) >= limit:
                break
        return found
