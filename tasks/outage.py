"""What a task does when Redis (the store) or the broker cannot be reached mid-run: its message
goes back to the broker, to run again once they answer. Never a failed task: a failure would
ack the message and hand the chain to its errback as if the channel had been tried, and with
the broker gone the errback's publish would be lost too.

A requeue that cannot reach the broker either leaves the message unacked in Redis, where the
visibility timeout hands it out again (tasks/timing.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery.exceptions import Reject
from kombu.exceptions import OperationalError

from store import StoreError

__all__ = ["OUTAGES", "requeue_on_outage"]

log = logging.getLogger(__name__)

#: Errors that mean "Redis or the broker did not answer", not "this event is bad".
OUTAGES = (StoreError, OperationalError, ConnectionError, TimeoutError)


@contextmanager
def requeue_on_outage() -> Iterator[None]:
    """Turn an outage inside the block into Reject(requeue=True)."""
    try:
        yield
    except OUTAGES as exc:
        log.warning("store or broker unreachable (%s); message requeued", type(exc).__name__)
        raise Reject(f"outage: {type(exc).__name__}", requeue=True) from exc
