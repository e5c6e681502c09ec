"""`notify.finish`: the chain's result callback. Writes the final state and acks the container.

Delivered -> DELIVERED + channel. Not delivered: a CRITICAL event with a channel worth another
try (transient, rate limited, not active) starts the next round after a growing pause, until
its deadline; otherwise ACK_ERROR naming each channel's reason. Idempotent: a second run (acks
late) finds the final state and re-sends the same ack, or finds the round already advanced.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from channels import Outcome, SkipCode
from logsetup import event_context
from store import ClaimState

from .app import app
from .deps import get_deps
from .escalation import give_up_at, round_backoff_s
from .plan import build_round, initial_carry
from .relay import send_ack

__all__ = ["error_message", "finish", "finish_on_error", "latest_per_channel"]

log = logging.getLogger(__name__)

#: A CRITICAL round is started only with at least this long left before the deadline.
MIN_ROUND_LEFT_S = 1.0


def error_message(outcomes: list[dict[str, Any]]) -> str:
    """The ACK_ERROR text: every channel's reason, in plan order. When no channel was even tried
    because none that needs an address had one, it says so first."""
    missing = [o for o in outcomes if o.get("skip") == SkipCode.NO_ADDRESS]
    others = [o for o in outcomes if o.get("skip") != SkipCode.NO_ADDRESS]
    parts = [f"{o['channel']}: {o['kind']} ({o['detail']})" for o in others]
    if missing and all(o["kind"] == "skipped" for o in others):
        names = ", ".join(o["channel"] for o in missing)
        return "; ".join([f"no address for any requested channel: {names}", *parts])
    parts = [f"{o['channel']}: {o['kind']} ({o['detail']})" for o in outcomes]
    return "; ".join(parts) or "no channel to try"


def latest_per_channel(*rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each channel's latest outcome over several rounds, in the order channels were first tried."""
    latest: dict[str, dict[str, Any]] = {}
    for outcomes in rounds:
        for outcome in outcomes:
            latest[outcome["channel"]] = outcome
    return list(latest.values())


@app.task(name="notify.finish", bind=True, max_retries=None)
def finish(self, carry: dict[str, Any], job: dict[str, Any]) -> None:
    with event_context(job["event"]["event_id"]):
        _finish(carry, job)


@app.task(name="notify.finish_on_error")
def finish_on_error(request, exc, traceback) -> None:
    """Errback of every link: a link that raised never ends the event silently.

    A failed attempt counts as a transient failure of its channel and the round goes on with
    the next channel; a failed `finish` runs again with the same carry (a delivery stays one).
    """
    args = list(request.args or [])
    carry, job = (args[0], args[1]) if len(args) >= 2 else (None, None)
    if not isinstance(job, dict) or "event" not in job:
        log.error("errback without a job: task=%s exc=%r", request.id, exc)
        return
    carry = carry if isinstance(carry, dict) and "outcomes" in carry else initial_carry()
    with event_context(job["event"]["event_id"]):
        log.error("link %s failed: task=%s exc=%r", request.task, request.id, exc)
        if request.task == "notify.finish" or carry.get("delivered"):
            _finish(carry, job)
            return
        planned = job.get("resolved_from", job.get("channel", "?"))
        store = get_deps().store
        event = job["event"]
        claim_key = store.keys.channel_claim(
            event["user_id"], event["event_id"], job.get("channel", "?")
        )
        if store.client.exists(claim_key):
            # The provider accepted it before the link failed: delivered, not a reason to go on.
            _finish({**carry, "delivered": {"channel": job["channel"]}}, job)
            return
        failed = Outcome.transient(f"internal error: {type(exc).__name__}: {exc}")
        carry = {
            **carry,
            "outcomes": [*carry["outcomes"], {"channel": planned, **failed.as_dict()}],
        }
        plan = job.get("plan", [])
        names = [p["channel"] for p in plan]
        start = names.index(planned) + 1 if planned in names else len(plan)
        base = {key: value for key, value in job.items() if key not in _LINK_KEYS}
        build_round(base, plan, carry=carry, start=start).apply_async()


#: Keys of a link's job that are not part of the event's job.
_LINK_KEYS = (
    "channel",
    "only_if_active",
    "tries",
    "not_before",
    "resolved_from",
    "web_published_at",
    "plan",
)


def _finish(carry: dict[str, Any], job: dict[str, Any]) -> None:
    deps = get_deps()
    claims = deps.store.claims
    event = job["event"]
    user_id, event_id, round_no = event["user_id"], event["event_id"], job["round"]

    delivered = carry.get("delivered")
    if delivered:
        stored = claims.finalize(
            user_id, event_id, ClaimState.DELIVERED, round_no, delivered["channel"]
        )
    else:
        outcomes = carry.get("outcomes", [])
        if event["priority"] == "CRITICAL" and _schedule_next_round(job, outcomes, deps):
            return
        everything = latest_per_channel(job.get("history", []), outcomes)
        stored = claims.finalize(
            user_id, event_id, ClaimState.ACK_ERROR, round_no, error=error_message(everything)
        )
    state, via, error = stored
    if state in ("DELIVERED", "ACK_ERROR"):
        claims.settled(user_id, event_id)
    if state == "STALE" or state == "GONE":
        log.warning("finish round=%s found claim %s; no ack", round_no, state)
        return
    claim = claims.read(user_id, event_id)
    send_ack(
        claim.get("ingress_id") or job["ingress_id"],
        claim.get("routing_id") or job["routing_id"],
        event_id,
        state,
        delivered_via=via,
        error=error,
    )
    log.info("finish round=%s state=%s via=%s error=%r", round_no, state, via or "-", error)


def _schedule_next_round(job: dict[str, Any], outcomes: list[dict[str, Any]], deps) -> bool:
    """Put another CRITICAL round over the channels worth it into the due set; False when there is
    none or no time is left before the deadline."""
    settings = deps.settings
    wanted = {o["channel"] for o in outcomes if Outcome.from_dict(o).worth_another_round}
    # Keep the original preferences (order, only_if_active, ACTIVE_SESSION) of those channels.
    plan = [p for p in job["plan"] if p["channel"] in wanted]
    if not plan:
        return False
    now = time.time()
    left = give_up_at(job, settings.normal_ttl_s, settings.critical_deadline_s) - now
    if left <= MIN_ROUND_LEFT_S:
        return False
    # A last round just before the deadline rather than giving up early.
    pause = min(round_backoff_s(job["round"], settings.round_backoff_s), left - MIN_ROUND_LEFT_S)
    event = job["event"]
    next_job = {key: value for key, value in job.items() if key not in _LINK_KEYS}
    next_job["round"] = job["round"] + 1
    # The final ACK_ERROR names every channel ever tried, not only the last round's.
    next_job["history"] = latest_per_channel(job.get("history", []), outcomes)
    member = json.dumps({"job": next_job, "plan": plan})
    if deps.store.claims.advance_round(
        event["user_id"], event["event_id"], job["round"], member, now + pause
    ):
        log.info(
            "round=%s undelivered; round %s in %.1fs over %s",
            job["round"],
            next_job["round"],
            pause,
            ",".join(p["channel"] for p in plan),
        )
    else:
        log.warning("round=%s already advanced or final; nothing to schedule", job["round"])
    return True
