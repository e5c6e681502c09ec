"""Publishes CRITICAL rounds when they come due (DESIGN.md, "Timing rules").

`finish` puts every next round into the `due` sorted set in the same atomic step that advances
the claim's round (an outbox), so no round is lost between the two. This loop takes due entries
under a lease, publishes each round's chain, then removes it. Several schedulers may run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace

from store import ClaimState, Store

from .chain import build_chain
from .contract import Carry, RoundEntry

__all__ = ["publish_due", "resume_stalled", "run_scheduler"]

log = logging.getLogger(__name__)

#: A round whose publish failed comes due again after this long.
REPUBLISH_AFTER_S = 5.0
#: What a due entry or a claim's resume entry may fail to read with.
_UNREADABLE = (ValueError, KeyError, TypeError, AttributeError)


def publish_due(store: Store, now: float | None = None, limit: int = 100) -> int:
    """Start every round due by `now`; returns how many were started."""
    started = 0
    for member in store.due.take(now or time.time(), limit):
        try:
            job = RoundEntry.from_dict(json.loads(member)).job
        except _UNREADABLE:
            log.error("unreadable due entry dropped: %r", member[:200])
            store.due.done(member)
            continue
        try:
            build_chain(Carry(job)).apply_async()
        except Exception:
            log.exception(
                "event_id=%s round publish failed; again in %.0fs", job.event_id, REPUBLISH_AFTER_S
            )
            store.due.retry_at(member, time.time() + REPUBLISH_AFTER_S)
            continue
        store.due.done(member)
        started += 1
        log.info("event_id=%s round=%s started", job.event_id, job.round)
    return started


def resume_stalled(store: Store, stall_s: float, now: float | None = None) -> int:
    """Start the next round of every QUEUED event whose chain went quiet for `stall_s` (its
    messages lost with a broker, or a worker that died without the broker redelivering)."""
    now = now or time.time()
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


def run_scheduler(
    store: Store, stop: threading.Event, stall_s: float, interval_s: float = 0.5
) -> None:
    """Loop until `stop` is set: publish due rounds, resume stalled events."""
    log.info(
        "scheduler running: sweeping %s every %.1fs, resuming events quiet for %.0fs",
        store.keys.due(),
        interval_s,
        stall_s,
    )
    while not stop.is_set():
        try:
            publish_due(store)
            resume_stalled(store, stall_s)
        except Exception:
            log.exception("sweep failed; retrying")
        stop.wait(interval_s)
