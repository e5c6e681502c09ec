"""`notify.finish`: the chain's result callback. Writes the final state and acks the container.

Delivered -> DELIVERED + channel. Not delivered: a CRITICAL event with a channel worth another
try (transient, rate limited, not active) starts the next round after a growing pause, until
its deadline; otherwise ACK_ERROR naming each channel's reason. Idempotent: a second run (acks
late) finds the final state and re-sends the same ack, or finds the round already advanced.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from channels import Outcome, SkipCode
from logsetup import event_context
from proto import AckStatus, ChannelType
from store import ClaimState

from . import metrics
from .app import app
from .chain import build_chain
from .contract import Carry, Job, RoundEntry, attempt_args, finish_args
from .deps import get_deps
from .escalation import give_up_at, round_backoff_s
from .outage import requeue_on_outage
from .relay import send_ack

__all__ = ["error_message", "finish", "finish_event", "finish_on_error", "latest_per_channel"]

log = logging.getLogger(__name__)

#: A CRITICAL round is started only with at least this long left before the deadline.
MIN_ROUND_LEFT_S = 1.0


#: What an ACK_ERROR must never show a container: URLs (webhook URLs are credentials, API URLs
#: name internal hosts), IP addresses, host:port pairs.
_HOSTS = re.compile(
    r"[a-z][a-z0-9+.-]*://\S+"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+:\d{2,5}\b",
    re.IGNORECASE,
)


def _no_hosts(text: str) -> str:
    return _HOSTS.sub("<host>", text)


def error_message(outcomes: list[dict[str, Any]], expired: bool = False) -> str:
    """The ACK_ERROR text: every channel's reason, in plan order, with no URL or host in it.
    When no channel was even tried because none that needs an address had one, it says so
    first; a NORMAL event past its TTL (`expired`) starts "expired:"."""
    return _no_hosts(_reasons(outcomes, expired))


def _reasons(outcomes: list[dict[str, Any]], expired: bool = False) -> str:
    if expired:
        # A NORMAL event past its TTL is never sent late: the container learns it expired.
        tried = [o for o in outcomes if o.get("skip") != SkipCode.EXPIRED]
        return "; ".join(["expired: TTL passed before delivery", *_parts(tried)])
    missing = [o for o in outcomes if o.get("skip") == SkipCode.NO_ADDRESS]
    others = [o for o in outcomes if o.get("skip") != SkipCode.NO_ADDRESS]
    if missing and all(o["kind"] == "skipped" for o in others):
        names = ", ".join(o["channel"] for o in missing)
        return "; ".join([f"no address for any requested channel: {names}", *_parts(others)])
    return "; ".join(_parts(outcomes)) or "no channel to try"


def _parts(outcomes: list[dict[str, Any]]) -> list[str]:
    return [f"{o['channel']}: {o['kind']} ({o['detail']})" for o in outcomes]


def _expired(outcomes: list[dict[str, Any]]) -> bool:
    """Did the TTL stop this event: an attempt skipped for it, or a retry it left no time for?"""
    return any(o.get("skip") == SkipCode.EXPIRED or o.get("cut_by_time") for o in outcomes)


def latest_per_channel(*rounds: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Each channel's latest outcome over several rounds, in the order channels were first tried."""
    latest: dict[str, dict[str, Any]] = {}
    for outcomes in rounds:
        for outcome in outcomes:
            latest[outcome["channel"]] = outcome
    return list(latest.values())


@app.task(name="notify.finish", bind=True, max_retries=None)
def finish(self, carry: dict, job: dict | None = None) -> None:
    typed = finish_args(carry, job)
    with event_context(typed.job.event_id, typed.job.user_id), requeue_on_outage():
        finish_event(typed)


@app.task(name="notify.finish_on_error")
def finish_on_error(request, exc, traceback) -> None:
    """Errback of every link: a link that raised never ends the event silently.

    A failed attempt counts as a transient failure of its channel and the round goes on with
    the next channel; a failed `finish` runs again with the same carry (a delivery stays one).
    """
    args = list(request.args or [])
    try:
        if request.task == "notify.finish":
            carry, link = finish_args(*args[:2]), None
        else:
            carry, link = attempt_args(args[0], args[1])
    except (IndexError, KeyError, TypeError, ValueError, AttributeError):
        log.error("errback without a readable job: task=%s exc=%r", request.id, exc)
        return
    job = carry.job
    with event_context(job.event_id, job.user_id):
        log.error("link %s failed: task=%s exc=%s", request.task, request.id, type(exc).__name__)
        if link is None or carry.delivered is not None:
            finish_event(carry)
            return
        planned = job.plan[link.index].channel
        tried = link.resolved if link.resolved is not None else planned
        store = get_deps().store
        if store.channel_claims.accepted(job.user_id, job.event_id, ChannelType.Name(tried)):
            # The provider accepted it before the link failed: delivered, not a reason to go on.
            finish_event(Carry(job, carry.outcomes, delivered=tried))
            return
        failed = Outcome.internal_error(exc)
        build_chain(
            carry.with_outcome(planned, failed.as_dict()), start=link.index + 1
        ).apply_async()


def finish_event(carry: Carry) -> None:
    """End the event: final state and ack, or the next CRITICAL round (also called by the
    attempt that delivered it, so a delivered event needs no `finish` task)."""
    deps = get_deps()
    claims = deps.store.claims
    job = carry.job
    if carry.delivered is not None:
        via = ChannelType.Name(carry.delivered)
        stored = claims.finalize(job.user_id, job.event_id, ClaimState.DELIVERED, job.round, via)
    else:
        if job.critical and _schedule_next_round(job, carry.outcomes, deps):
            return
        everything = latest_per_channel(job.history, carry.outcomes)
        stored = claims.finalize(
            job.user_id,
            job.event_id,
            ClaimState.ACK_ERROR,
            job.round,
            error=error_message(everything, expired=not job.critical and _expired(everything)),
        )
    if stored.state is None:
        log.warning("finish round=%s found the claim %s; no ack", job.round, stored.why_not)
        return
    send_ack(
        stored.ingress_id or job.ingress_id,
        stored.routing_id or job.routing_id,
        job.event_id,
        AckStatus.Value(stored.state),
        delivered_via=ChannelType.Value(stored.delivered_via) if stored.delivered_via else None,
        error=stored.error,
        # Latency is counted once: a second finish replays the ack without a receipt time.
        received_at=job.received_ms / 1000 if stored.now else None,
    )
    if stored.now:
        priority = "CRITICAL" if job.critical else "NORMAL"
        metrics.record_final(priority, stored.state, time.time() - job.received_ms / 1000)
    log.info(
        "finish round=%s state=%s via=%s error=%r",
        job.round,
        stored.state,
        stored.delivered_via or "-",
        stored.error,
    )


def _schedule_next_round(job: Job, outcomes: tuple[dict[str, Any], ...], deps) -> bool:
    """Put another CRITICAL round over the channels worth it into the due set; False when there is
    none or no time is left before the deadline."""
    settings = deps.settings
    wanted = {o["channel"] for o in outcomes if Outcome.from_dict(o).worth_another_round}
    # Keep the original preferences (order, only_if_active, ACTIVE_SESSION) of those channels.
    plan = tuple(p for p in job.plan if ChannelType.Name(p.channel) in wanted)
    if not plan:
        return False
    now = time.time()
    left = give_up_at(job, settings.normal_ttl_s, settings.critical_deadline_s) - now
    if left <= MIN_ROUND_LEFT_S:
        return False
    # A last round just before the deadline rather than giving up early.
    pause = min(round_backoff_s(job.round, settings.round_backoff_s), left - MIN_ROUND_LEFT_S)
    # The final ACK_ERROR names every channel ever tried, not only the last round's.
    next_job = job.next_round(plan, tuple(latest_per_channel(job.history, outcomes)))
    member = json.dumps(RoundEntry(next_job).to_dict())
    if deps.store.claims.advance_round(job.user_id, job.event_id, job.round, member, now + pause):
        log.info(
            "round=%s undelivered; round %s in %.1fs over %s",
            job.round,
            next_job.round,
            pause,
            ",".join(ChannelType.Name(p.channel) for p in plan),
        )
    else:
        log.warning("round=%s already advanced or final; nothing to schedule", job.round)
    return True
