"""`notify.attempt`: one delivery attempt of one event on one channel, a link of the chain.

Receives the carry (outcomes so far) and its job; returns the carry with its channel's final
outcome appended. Delivered -> the rest of the chain is trimmed to `finish`. Transient or rate
limited -> `self.retry` (the chain is kept). Permanent or skipped -> the next link runs now.
Nothing here may break the chain: every exception in a channel is an Outcome already, and the
TTL/deadline is checked here rather than with Celery's `expires`.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

from celery.exceptions import Reject

from channels import Kind, Notice, Outcome, SkipCode, attempt_channel, telegram, web
from logsetup import event_context
from proto import UserEvent, decode_frame
from store import CLAIM_TTL_S, UserProfile

from .app import app
from .deps import get_deps
from .escalation import MAX_COUNTDOWN_S, give_up_at, retry_delay
from .plan import argsrepr
from .queues import queue_for

__all__ = ["attempt"]

log = logging.getLogger(__name__)

#: Channels that have no session of their own: `only_if_active` skips them.
SESSIONLESS = {"EMAIL", "PUSH", "DISCORD", "SLACK"}


def _with_outcome(carry: dict[str, Any], channel: str, outcome: Outcome) -> dict[str, Any]:
    return {**carry, "outcomes": [*carry["outcomes"], {"channel": channel, **outcome.as_dict()}]}


def _is_active(channel: str, user_id: str, deps) -> bool:
    """A live session on the channel: a browser for WEB, a recent chat for TELEGRAM."""
    if channel == "WEB":
        return deps.store.presence.is_present(user_id)
    if channel == "TELEGRAM":
        return telegram.is_active(deps.store, user_id, deps.settings.telegram_active_s)
    if channel == "ACTIVE_SESSION":
        return _is_active("WEB", user_id, deps) or _is_active("TELEGRAM", user_id, deps)
    return False


def _precheck(job: dict[str, Any], deps, now: float) -> Outcome | None:
    """An Outcome when the attempt must not even try (expired, inactive, muted)."""
    settings = deps.settings
    event, channel = job["event"], job["channel"]
    if now >= give_up_at(job, settings.normal_ttl_s, settings.critical_deadline_s):
        what = "deadline" if event["priority"] == "CRITICAL" else "TTL"
        return Outcome.skipped(SkipCode.EXPIRED, f"{what} passed before this attempt")
    if job.get("only_if_active"):
        if channel in SESSIONLESS:
            return Outcome.skipped(
                SkipCode.NO_SESSION, f"only_if_active: {channel} has no sessions"
            )
        if not _is_active(channel, event["user_id"], deps):
            return Outcome.skipped(
                SkipCode.NOT_ACTIVE, f"only_if_active: no live {channel} session"
            )
    return None


def _trim_to_finish(task) -> None:
    # request.chain lists the remaining links last-first: element 0 is `finish`.
    if task.request.chain:
        del task.request.chain[1:]


@app.task(name="notify.attempt", bind=True, max_retries=None)
def attempt(self, carry: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    event = job["event"]
    with event_context(event["event_id"]):
        return _attempt(self, carry, job)


def _attempt(task, carry: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    deps = get_deps()
    event, channel = job["event"], job["channel"]
    user_id, event_id = event["user_id"], event["event_id"]
    now = time.time()
    if carry.get("delivered"):
        return carry
    deps.store.claims.touch(user_id, event_id, now)  # a sign of life for the stall sweep
    not_before = job.get("not_before", 0.0)
    if not_before > now:
        # A wait longer than one countdown is done in steps (DESIGN.md, "Timing rules").
        _retry(task, carry, job, min(MAX_COUNTDOWN_S, not_before - now))

    outcome = _precheck(job, deps, now)
    if outcome is None and channel == "ACTIVE_SESSION":
        # At delivery time: the live web session, else a recently active Telegram chat.
        for concrete in ("WEB", "TELEGRAM"):
            if _is_active(concrete, user_id, deps):
                resolved = {**job, "channel": concrete, "resolved_from": "ACTIVE_SESSION"}
                log.info("channel=ACTIVE_SESSION resolved=%s", concrete)
                replacement = attempt.s(carry, resolved).set(
                    queue=queue_for(event["priority"], concrete),
                    argsrepr=argsrepr(resolved, concrete, resolved.get("tries", 0)),
                )
                raise task.replace(replacement)
        outcome = Outcome.skipped(SkipCode.NOT_ACTIVE, "no live session on any channel")

    profile = deps.store.directory.get(user_id) if outcome is None else None
    if outcome is None:
        outcome = _muted(job, profile)
    if outcome is None and channel == "WEB":
        outcome = _web(task, carry, job, deps, now)
    if outcome is None:
        outcome = _deliver(job, deps, profile)
    if outcome.kind == Kind.DELIVERED:
        # First, before anything else can fail: a redelivered task must not send again.
        deps.store.client.set(
            deps.store.keys.channel_claim(user_id, event_id, channel),
            outcome.receipt or "1",
            ex=CLAIM_TTL_S,
        )

    tries = job.get("tries", 0)
    planned = job.get("resolved_from", channel)  # what the plan asked for, e.g. ACTIVE_SESSION
    deps.store.delivery_log.append(
        user_id,
        event_id,
        {"channel": channel, "round": job["round"], "try": tries, **outcome.as_dict()},
    )
    log.info(
        "channel=%s round=%s try=%s outcome=%s detail=%r",
        channel,
        job["round"],
        tries,
        outcome.kind,
        outcome.detail,
    )

    if outcome.kind == Kind.DELIVERED:
        _trim_to_finish(task)
        delivered = {"channel": channel}
        return {**_with_outcome(carry, planned, outcome), "delivered": delivered}

    settings = deps.settings
    deadline = give_up_at(job, settings.normal_ttl_s, settings.critical_deadline_s)
    delay = retry_delay(
        outcome, tries, settings.channel_retries, settings.retry_base_s, now, deadline
    )
    if delay is not None:
        retry_job = {**job, "tries": tries + 1, "not_before": now + delay}
        _retry(task, carry, retry_job, min(delay, MAX_COUNTDOWN_S))
    return _with_outcome(carry, planned, outcome)


def _muted(job: dict[str, Any], profile: UserProfile | None) -> Outcome | None:
    """SKIPPED when the user muted this channel for this event type — except for a CRITICAL
    event whose muted channel is the last one of its plan (better muted than undelivered)."""
    event, channel = job["event"], job["channel"]
    if profile is None or not profile.is_muted(channel, event["event_type"]):
        return None
    planned = job.get("resolved_from", channel)
    if event["priority"] == "CRITICAL" and job["plan"][-1]["channel"] == planned:
        log.info(
            "channel=%s muted for %s, but it is CRITICAL's last channel",
            channel,
            event["event_type"],
        )
        return None
    return Outcome.skipped(SkipCode.MUTED, f"{channel} muted for {event['event_type']}")


def _retry(task, carry: dict[str, Any], job: dict[str, Any], countdown: float) -> None:
    """`self.retry` (the chain is kept), showing only safe arguments in Flower. If the retry
    cannot be published, the message goes back to the broker rather than being dropped."""
    try:
        raise task.retry(
            countdown=countdown,
            args=(carry, job),
            argsrepr=argsrepr(job, job["channel"], job.get("tries", 0)),
        )
    except Reject as exc:  # Celery answers a failed retry publish with Reject(requeue=False)
        raise Reject(exc.reason, requeue=True) from exc


def _web(task, carry: dict[str, Any], job: dict[str, Any], deps, now: float) -> Outcome:
    """Publish once (under the channel claim), then poll for the browser's ack every second
    with `self.retry` — a worker slot is never held while waiting — until the ack timeout."""
    event = job["event"]
    user_id, event_id = event["user_id"], event["event_id"]
    published_at = job.get("web_published_at")
    if published_at is None:
        # Once per round: a redelivered task finds its round's publish time and keeps waiting.
        published_key = deps.store.keys.web_published(user_id, event_id, job["round"])
        earlier = deps.store.client.get(published_key)
        if earlier is not None:
            published_at = float(earlier)
        else:
            refused = web.publish(base64.b64decode(event["frame"]), user_id, deps)
            if refused is not None:
                return refused
            published_at = now
            deps.store.client.set(published_key, str(now), ex=CLAIM_TTL_S)
            log.info("channel=WEB published; waiting for the browser's ack")
    if web.acked(user_id, event_id, deps):
        return Outcome.delivered("acked by the web session")
    timeout_s = deps.settings.web_ack_timeout_s
    if now - published_at >= timeout_s:
        return Outcome.skipped(
            SkipCode.NOT_ACTIVE, f"no ack from the web session within {timeout_s}s"
        )
    _retry(task, carry, {**job, "web_published_at": published_at}, 1.0)
    raise AssertionError("unreachable: _retry raises")


def _deliver(job: dict[str, Any], deps, profile: UserProfile | None) -> Outcome:
    """Send on the job's concrete channel, unless a provider already accepted it."""
    event, channel = job["event"], job["channel"]
    user_id, event_id = event["user_id"], event["event_id"]
    claim_key = deps.store.keys.channel_claim(user_id, event_id, channel)
    receipt = deps.store.client.get(claim_key)
    if receipt is not None:
        # A redelivered task (worker lost after the provider accepted): never send twice.
        return Outcome.delivered(f"already accepted: {receipt.decode()}")
    frame = base64.b64decode(event["frame"])
    user_event = decode_frame(frame)
    assert isinstance(user_event, UserEvent)
    notice = Notice.from_event(user_event)
    outcome = attempt_channel(channel, notice, frame, profile, deps)
    new_chat = telegram.migrated_chat_id(outcome) if channel == "TELEGRAM" else None
    if new_chat:
        # The group became a supergroup: follow it, and try again there.
        deps.store.telegram.link(user_id, new_chat)
        return Outcome.transient(f"telegram chat migrated to {new_chat}; retrying there")
    return outcome
