"""The scheduler (`notify scheduler`): publishes due work, and sees that every event ends.

Every wait is in the due set (store/due.py) rather than in the broker: round 0's outbox entry
(published here only if the ingress did not mark it QUEUED within OUTBOX_GRACE_S), the next
CRITICAL round, and links that parked themselves (a backoff, a retry-after, the WEB ack poll).
One sweep every `interval_s`:

  1. publish every due entry as a chain (a parked link comes back as its chain's first link);
  2. finalize every open event past its deadline (CRITICAL) or TTL (NORMAL) with ACK_ERROR
     naming what was tried, and ack the container;
  3. start the next round of a QUEUED event whose chain went quiet for NOTIFY_STALL_S (its
     messages lost with a broker that lost data); the old round's links are fenced out. An
     event whose queues hold messages is not quiet but in line behind a backlog: left alone.

Several schedulers may run: a due entry is taken under a lease, and every step is idempotent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from proto import AckStatus
from settings import Settings
from store import BEAT_S, ClaimState, Store, this_process

from .chain import build_chain
from .contract import Carry, Job, ParkedLink, RoundEntry, due_entry
from .finish import error_message, latest_per_channel
from .queues import ALL_QUEUES, queue_depths, queue_for
from .relay import send_ack

__all__ = ["finalize_expired", "publish_due", "resume_stalled", "run_scheduler", "sweep"]

log = logging.getLogger(__name__)

#: Work whose publish failed comes due again after this long.
REPUBLISH_AFTER_S = 5.0
#: An event is finalized by the sweep this long after its deadline or TTL (its own chain gets
#: the first chance to answer ACK_ERROR with its own reasons).
EXPIRY_GRACE_S = 5.0
#: What a due entry or a claim's resume entry may fail to read with.
_UNREADABLE = (ValueError, KeyError, TypeError, AttributeError)


def publish_due(store: Store, now: float | None = None, limit: int = 200) -> int:
    """Publish every entry due by `now` as a chain; returns how many were published."""
    started = 0
    for taken in store.due.take(now or time.time(), limit):
        member, raw = taken.member, taken.entry
        try:
            entry = due_entry(json.loads(raw))
        except _UNREADABLE:
            log.error("unreadable due entry dropped: %r", raw[:200])
            store.due.done(member)
            continue
        if isinstance(entry, ParkedLink):
            carry, canvas = entry.carry, build_chain(entry.carry, first=entry.link)
        else:
            carry = Carry(entry.job)
            canvas = build_chain(carry)
        job = carry.job
        try:
            canvas.apply_async()
        except Exception:
            log.exception(
                "event_id=%s publish failed; again in %.0fs", job.event_id, REPUBLISH_AFTER_S
            )
            store.due.retry_at(member, time.time() + REPUBLISH_AFTER_S)
            continue
        if isinstance(entry, RoundEntry) and job.round == 0:
            # The outbox's safety net: the ingress published nothing, or died before marking.
            store.claims.mark_queued_many([(job.user_id, job.event_id, raw.decode())], time.time())
            log.warning("event_id=%s round 0 published from the outbox", job.event_id)
        # Not `done`: the link may have run and parked itself again already (a fast broker).
        store.due.published(taken)
        started += 1
    return started


def finalize_expired(store: Store, settings: Settings, now: float | None = None) -> int:
    """ACK_ERROR for every open event past its deadline or TTL (plus EXPIRY_GRACE_S); the
    error names each channel's latest outcome from the delivery log. Returns how many."""
    now = now or time.time()
    finalized = 0
    for critical, span in ((True, settings.critical_deadline_s), (False, settings.normal_ttl_s)):
        for user_id, event_id in store.claims.past(critical, now - span - EXPIRY_GRACE_S):
            tried = latest_per_channel(tuple(store.delivery_log.read(user_id, event_id)))
            if critical:
                error = "deadline passed before delivery; " + error_message(tried)
            else:
                error = error_message(tried, expired=True)
            where = store.claims.expire(user_id, event_id, error)
            store.claims.settled(user_id, event_id)
            if where is None:
                continue
            ingress_id, routing_id = where
            send_ack(ingress_id, routing_id, event_id, AckStatus.ACK_ERROR, error=error)
            finalized += 1
            what = "deadline" if critical else "TTL"
            log.warning("event_id=%s %s passed; finalized ACK_ERROR", event_id, what)
    return finalized


def _depths_of_this_sweep() -> Callable[[str], int]:
    """Every queue's depth, read once (on one connection) when the sweep first needs one."""
    read: dict[str, int] = {}

    def depth(queue: str) -> int:
        if not read:
            read.update(queue_depths(ALL_QUEUES))
        return read.get(queue, 0)

    return depth


def _in_line(job: Job, depth: Callable[[str], int]) -> bool:
    """Do the queues of the event's round hold messages (a backlog it may be waiting in)?"""
    queues = {queue_for(job.priority, p.channel) for p in job.plan} | {
        queue_for(job.priority, None)
    }
    return any(depth(queue) for queue in queues)


def resume_stalled(
    store: Store,
    stall_s: float,
    now: float | None = None,
    depth: Callable[[str], int] | None = None,
) -> int:
    """Start the next round of every QUEUED event whose chain went quiet for `stall_s` (its
    messages lost with a broker that lost data) and whose queues are empty (not in line)."""
    now = now or time.time()
    depth = depth or _depths_of_this_sweep()
    resumed = 0
    for user_id, event_id in store.claims.stalled(now - stall_s):
        claim = store.claims.read(user_id, event_id)
        live = claim.get("state") in (ClaimState.QUEUED, ClaimState.PENDING)
        if not live or not claim.get("resume"):
            store.claims.settled(user_id, event_id)
            continue
        try:
            round_no = int(claim.get("round", 0))
            job = RoundEntry.from_dict(json.loads(claim["resume"])).job
        except _UNREADABLE:
            log.error("event_id=%s stalled but cannot be resumed: unreadable entry", event_id)
            store.claims.settled(user_id, event_id)
            continue
        if _in_line(job, depth):
            continue
        entry = json.dumps(RoundEntry(replace(job, round=round_no + 1)).to_dict())
        if store.claims.advance_round(user_id, event_id, round_no, entry, now):
            resumed += 1
            log.warning(
                "event_id=%s stalled for %.0fs in round %s; round %s started",
                event_id,
                stall_s,
                round_no,
                round_no + 1,
            )
    return resumed


def sweep(store: Store, settings: Settings) -> None:
    """One pass of everything the scheduler does."""
    publish_due(store)
    finalize_expired(store, settings)
    resume_stalled(store, settings.stall_s)


def run_scheduler(
    store: Store, settings: Settings, stop: threading.Event, interval_s: float = 0.25
) -> None:
    """Loop until `stop` is set, sweeping every `interval_s`."""
    log.info(
        "scheduler running: sweeping %s every %.2fs, resuming events quiet for %.0fs",
        store.keys.due(),
        interval_s,
        settings.stall_s,
    )
    name = this_process()
    next_beat = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_beat:
                store.liveness.beat("scheduler", name)
                next_beat = time.monotonic() + BEAT_S
            sweep(store, settings)
        except Exception:
            log.exception("sweep failed; retrying")
        stop.wait(interval_s)
    with contextlib.suppress(Exception):
        store.liveness.gone("scheduler", name)
