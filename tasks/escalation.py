"""Escalation policy: how long to wait before retrying a channel or starting another round, and
when to give up. Pure functions of the job, the outcome and the settings; no Celery, no I/O.

Rules (docs/reliability.md):
  * TRANSIENT -> retry the same channel after an exponential backoff with jitter, up to
    `NOTIFY_CHANNEL_RETRIES` times in one round, then escalate to the next channel.
  * RATE_LIMITED -> retry after the provider's retry-after (same budget).
  * PERMANENT or SKIPPED -> escalate at once.
  * No wait may pass the event's give-up time (TTL for NORMAL, deadline for CRITICAL).
  * A countdown never exceeds 60 s (an ETA task sits unacked in a worker until due); a longer
    wait is done as successive countdowns of at most 60 s.
"""

from __future__ import annotations

import random

from channels import Kind, Outcome

from .contract import Job

__all__ = [
    "MAX_COUNTDOWN_S",
    "MAX_ROUND_BACKOFF_S",
    "give_up_at",
    "retry_delay",
    "round_backoff_s",
]

#: Longest single countdown (docs/reliability.md, "Timing").
MAX_COUNTDOWN_S = 60.0
#: Longest pause between two CRITICAL rounds.
MAX_ROUND_BACKOFF_S = 3600.0


def give_up_at(job: Job, normal_ttl_s: float, critical_deadline_s: float) -> float:
    """Unix time after which the event is not attempted any more (counted from receipt)."""
    span = critical_deadline_s if job.critical else normal_ttl_s
    return job.received_ms / 1000.0 + span


def _backoff_s(tries: int, base_s: float) -> float:
    """Exponential backoff with jitter: base * 2^tries, scaled by a random factor in [0.5, 1]."""
    return min(MAX_COUNTDOWN_S, base_s * (2**tries)) * random.uniform(0.5, 1.0)


def retry_delay(
    outcome: Outcome, tries: int, max_tries: int, base_s: float, now: float, deadline: float
) -> float | None:
    """Seconds to wait before retrying this channel, or None to escalate now."""
    if outcome.kind == Kind.TRANSIENT:
        delay = _backoff_s(tries, base_s)
    elif outcome.kind == Kind.RATE_LIMITED:
        delay = max(outcome.retry_after_s or 0.0, 0.0)
    else:
        return None
    if tries >= max_tries or now + delay >= deadline:
        return None
    return delay


def round_backoff_s(round_no: int, base_s: float) -> float:
    """Pause before CRITICAL round `round_no + 1`: base * 2^round, capped at an hour."""
    return min(MAX_ROUND_BACKOFF_S, base_s * (2**round_no))
