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

from store import Store

from .plan import build_round

__all__ = ["publish_due", "run_scheduler"]

log = logging.getLogger(__name__)

#: A round whose publish failed comes due again after this long.
REPUBLISH_AFTER_S = 5.0


def publish_due(store: Store, now: float | None = None, limit: int = 100) -> int:
    """Start every round due by `now`; returns how many were started."""
    started = 0
    for member in store.due.take(now or time.time(), limit):
        try:
            entry = json.loads(member)
            job, plan = entry["job"], entry["plan"]
        except (ValueError, KeyError, TypeError):
            log.error("unreadable due entry dropped: %r", member[:200])
            store.due.done(member)
            continue
        try:
            build_round(job, plan).apply_async()
        except Exception:
            log.exception(
                "event_id=%s round publish failed; again in %.0fs",
                job["event"]["event_id"],
                REPUBLISH_AFTER_S,
            )
            store.due.retry_at(member, time.time() + REPUBLISH_AFTER_S)
            continue
        store.due.done(member)
        started += 1
        log.info("event_id=%s round=%s started", job["event"]["event_id"], job["round"])
    return started


def run_scheduler(store: Store, stop: threading.Event, interval_s: float = 0.5) -> None:
    """Loop until `stop` is set."""
    log.info("scheduler running: sweeping %s every %.1fs", store.keys.due(), interval_s)
    while not stop.is_set():
        try:
            publish_due(store)
        except Exception:
            log.exception("sweep failed; retrying")
        stop.wait(interval_s)
