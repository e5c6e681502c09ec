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
from .escalation import MAX_COUNTDOWN_S, give_up_at, round_backoff_s
from .plan import build_round
from .relay import send_ack

__all__ = ["error_message", "finish", "finish_on_error"]

log = logging.getLogger(__name__)


def error_message(outcomes: list[dict[str, Any]]) -> str:
    """The ACK_ERROR text: every channel's reason, in plan order."""
    if outcomes and all(o.get("skip") == SkipCode.NO_ADDRESS for o in outcomes):
        names = ", ".join(o["channel"] for o in outcomes)
        return f"no address for any requested channel: {names}"
    parts = [f"{o['channel']}: {o['kind']} ({o['detail']})" for o in outcomes]
    return "; ".join(parts) or "no channel to try"


@app.task(name="notify.finish", bind=True, max_retries=None)
def finish(self, carry: dict[str, Any], job: dict[str, Any]) -> None:
    with event_context(job["event"]["event_id"]):
        _finish(carry, job)


@app.task(name="notify.finish_on_error")
def finish_on_error(request, exc, traceback) -> None:
    """Errback of every link: a link that raised still ends in `finish`, never a silent stop."""
    args = list(request.args or [])
    carry, job = (args[0], args[1]) if len(args) >= 2 else (None, None)
    if not isinstance(job, dict) or "event" not in job:
        log.error("errback without a job: task=%s exc=%r", request.id, exc)
        return
    with event_context(job["event"]["event_id"]):
        log.error("link failed: task=%s exc=%r", request.id, exc)
        carry = carry if isinstance(carry, dict) and "outcomes" in carry else {"outcomes": []}
        failed = Outcome.transient(f"internal error: {type(exc).__name__}: {exc}")
        outcomes = [*carry["outcomes"], {"channel": job.get("channel", "?"), **failed.as_dict()}]
        _finish({**carry, "outcomes": outcomes, "delivered": None}, job)


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
        stored = claims.finalize(
            user_id, event_id, ClaimState.ACK_ERROR, round_no, error=error_message(outcomes)
        )
    state, via, error = stored
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
    """Start another CRITICAL round over the channels worth it; False when there is none."""
    settings = deps.settings
    wanted = {o["channel"] for o in outcomes if Outcome.from_dict(o).worth_another_round}
    # Keep the original preferences (order, only_if_active, ACTIVE_SESSION) of those channels.
    plan = [p for p in job["plan"] if p["channel"] in wanted]
    if not plan:
        return False
    pause = round_backoff_s(job["round"], settings.round_backoff_s)
    if time.time() + pause >= give_up_at(job, settings.normal_ttl_s, settings.critical_deadline_s):
        return False
    event = job["event"]
    if not deps.store.claims.advance_round(event["user_id"], event["event_id"], job["round"]):
        log.warning("round=%s already advanced by another finish", job["round"])
        return True
    next_job = {key: value for key, value in job.items() if key not in ("plan", "channel")}
    next_job["round"] = job["round"] + 1
    if pause <= MAX_COUNTDOWN_S:
        build_round(next_job, plan).apply_async(countdown=pause)
    else:
        due = json.dumps({"job": next_job, "plan": plan})
        deps.store.client.zadd(deps.store.keys.due(), {due: time.time() + pause})
    log.info(
        "round=%s undelivered; round %s in %.0fs over %s",
        job["round"],
        next_job["round"],
        pause,
        ",".join(p["channel"] for p in plan),
    )
    return True
