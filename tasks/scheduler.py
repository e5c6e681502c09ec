"""Publishes CRITICAL rounds whose pause was too long for a countdown (DESIGN.md, "Timing rules").

`finish` puts such a round into the `due` sorted set (score = due time); this loop moves due
entries to the broker. Removal is atomic per entry (ZREM), so several schedulers may run.
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


def publish_due(store: Store, now: float | None = None, limit: int = 100) -> int:
    """Start every round due by `now`; returns how many were started."""
    key = store.keys.due()
    started = 0
    for member in store.client.zrangebyscore(key, "-inf", now or time.time(), start=0, num=limit):
        if not store.client.zrem(key, member):
            continue  # another scheduler took it
        entry = json.loads(member)
        try:
            build_round(entry["job"], entry["plan"]).apply_async()
        except Exception:
            log.exception("round publish failed; put back for a retry in 5 s")
            store.client.zadd(key, {member: time.time() + 5})
            continue
        started += 1
        log.info(
            "event_id=%s round=%s started", entry["job"]["event"]["event_id"], entry["job"]["round"]
        )
    return started


def run_scheduler(store: Store, stop: threading.Event, interval_s: float = 1.0) -> None:
    """Loop until `stop` is set."""
    log.info("scheduler running: sweeping %s every %.1fs", store.keys.due(), interval_s)
    while not stop.is_set():
        try:
            publish_due(store)
        except Exception:
            log.exception("sweep failed; retrying")
        stop.wait(interval_s)
