"""`notify.attempt`: one delivery attempt of one event on one channel, a link of the chain.

Receives the carry (the job and the outcomes so far) and its link; returns the carry with its
channel's final outcome appended. Delivered -> the event is finished here (final state, ack) and
the rest of the chain, `finish` included, is dropped.
Transient or rate limited -> the link parks itself in the due set with its wait, the rest of
its round follows when the scheduler publishes it (no ETA task ever sits in the broker).
Awaiting the user's ack (WEB) -> parked for about a second, again and again. Permanent or
skipped -> the next link runs now.

Fencing (store/claims.py): an attempt of a final event, or of a round that is not the event's
current one, stops its chain at once; a provider is called only under the event's send lease,
taken in the same step that checks no provider accepted it yet. Nothing here may break the
chain: every exception in a channel is an Outcome already, and the TTL/deadline is checked here
rather than with Celery's `expires`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import replace

from channels import (
    CHANNELS,
    Channel,
    Kind,
    Notice,
    Outcome,
    SkipCode,
    deliver,
    resolve_active_session,
)
from logsetup import event_context
from proto import ChannelType
from store import Fence, UserProfile, link_member

from . import metrics
from .app import app
from .chain import attempt_signature
from .contract import Carry, Job, Link, ParkedLink, Preference, attempt_args
from .deps import get_deps
from .digests import digest_step
from .effects import apply_effects
from .escalation import give_up_at, retry_delay
from .finish import finish_event
from .human_ack import asks_for_ack, channel_claim, with_ack_link
from .outage import requeue_on_outage
from .timing import SEND_LEASE_S

__all__ = ["attempt"]

log = logging.getLogger(__name__)

#: How often a delivery awaiting the user's ack (WEB) looks for it.
ACK_POLL_S = 1.0
#: A wait shorter than this is not parked: the scheduler would not be quicker.
PARK_SLACK_S = 0.05


#: Flower and Celery's logs show at most this much of an attempt's result (the carry): its
#: delivery and outcomes come first, the job (with the payload) after the cut.
RESULT_REPR_CHARS = 200


@app.task(name="notify.attempt", bind=True, max_retries=None, resultrepr_maxsize=RESULT_REPR_CHARS)
def attempt(self, carry: dict, link: dict) -> dict:
    typed_carry, typed_link = attempt_args(carry, link)
    with event_context(typed_carry.job.event_id, typed_carry.job.user_id), requeue_on_outage():
        try:
            done = _attempt(self, typed_carry, typed_link)
        except _Wait as wait:
            carry_now = wait.carry or typed_carry
            done = _park(self, carry_now, wait.link or typed_link, wait.until, get_deps())
        except _Stop as stop:
            done = _stop(self, typed_carry, str(stop))
        except _Delivered as elsewhere:
            done = _finish_here(self, replace(typed_carry, delivered=elsewhere.channel))
        return done.to_dict()


def _attempt(task, carry: Carry, link: Link) -> Carry:
    deps = get_deps()
    job = carry.job
    if carry.delivered is not None:
        return carry
    now = time.time()
    # A sign of life for the stall sweep, and the first fence: a final event or an old round.
    fence = deps.store.claims.touch(job.user_id, job.event_id, job.round, now)
    if fence != Fence.OK:
        raise _Stop(f"event is {fence.lower()}")
    if link.not_before > now + PARK_SLACK_S:
        raise _Wait(link.not_before)
    asks = asks_for_ack(job, deps.settings)
    if asks and (done := _awaiting_person(task, carry, link, deps, now)) is not None:
        return done

    preference = job.plan[link.index]
    kind = link.resolved if link.resolved is not None else preference.channel
    outcome = _precheck(carry, preference, kind, deps, now)
    if outcome is None and kind == ChannelType.ACTIVE_SESSION:
        resolved = resolve_active_session(job.user_id, deps)
        if resolved is not None:
            log.info("channel=ACTIVE_SESSION resolved=%s", resolved.name)
            concrete = replace(link, resolved=resolved.type)
            raise task.replace(attempt_signature(job, concrete, carry))
        outcome = Outcome.skipped(SkipCode.NOT_ACTIVE, "no live session on any channel")
    channel = CHANNELS.get(kind)
    if outcome is None and channel is None:
        outcome = Outcome.skipped(SkipCode.UNSUPPORTED, f"channel {ChannelType.Name(kind)} unknown")
    if outcome is None and channel.external and link.index < len(job.plan) - 1:
        # Only where there is a next channel to go to: skipping the last one gains nothing.
        outcome = _breaker_open(channel, deps)
    if outcome is None:
        notice = Notice.from_frame(job.frame)
        if asks:
            notice = with_ack_link(notice, channel, deps)
        profile = deps.store.directory.get(job.user_id) or UserProfile(user_id=job.user_id)
        outcome = _muted(job, link, channel, notice, profile)
        if outcome is None and not job.critical and channel.external:
            held = digest_step(job, channel, notice, profile, deps, now)
            if isinstance(held, float):  # held for a digest: wait for it without a worker
                raise _Wait(held, carry=replace(carry, held_until=max(held, carry.held_until or 0)))
            outcome = held
        if outcome is None:
            outcome = _send(task, carry, link, channel, notice, profile, deps, now, asks)
        if channel.external and outcome.latency_s is not None:  # the provider answered
            _count_for_breaker(channel, job.user_id, outcome, deps)
    if channel is not None:
        apply_effects(channel, job.user_id, outcome, deps.store)
    return _record(task, carry, link, preference, kind, outcome, deps, now, asks)


def _record(task, carry, link, preference, kind, outcome, deps, now, asks=False) -> Carry:
    """Log the attempt, then go on: trim to finish, retry, or hand on to the next link."""
    job = carry.job
    name = ChannelType.Name(kind)
    entry = {
        "channel": name,
        "round": job.round,
        "try": link.tries,
        "started": now,
        **outcome.as_dict(),
    }
    deps.store.delivery_log.append(job.user_id, job.event_id, entry)
    log.info(
        "channel=%s round=%s try=%s outcome=%s detail=%r",
        name,
        job.round,
        link.tries,
        outcome.kind,
        outcome.detail,
        extra={"channel": name, "outcome": str(outcome.kind)},
    )
    metrics.record_attempt(name, outcome.kind, outcome.latency_s)
    if outcome.kind == Kind.DELIVERED and asks:
        # Accepted is not acknowledged: wait for the person (woken at once by an ack).
        waiting = replace(link, accepted_at=now, resolved=kind)
        raise _Wait(now + deps.settings.human_ack_wait_s, waiting)
    if outcome.kind == Kind.DELIVERED:
        done = carry.with_outcome(preference.channel, outcome.as_dict())
        return _finish_here(task, replace(done, delivered=kind))

    settings = deps.settings
    deadline = _give_up_at(carry, settings)
    delay = retry_delay(
        outcome, link.tries, settings.channel_retries, settings.retry_base_s, now, deadline
    )
    if delay is not None:
        retry_link = replace(link, tries=link.tries + 1, not_before=now + delay, sent_at=None)
        raise _Wait(now + delay, retry_link)
    wanted = outcome.kind in (Kind.TRANSIENT, Kind.RATE_LIMITED)
    cut = wanted and link.tries < settings.channel_retries  # only the TTL/deadline stopped it
    # The outcome is recorded under what the plan asked for, e.g. ACTIVE_SESSION.
    return carry.with_outcome(preference.channel, outcome.as_dict() | {"cut_by_time": cut})


def _finish_here(task, carry: Carry) -> Carry:
    """Delivered: write the final state and ack in this task, and end the chain (its later links
    and its `finish`). One task fewer per event. A copy redelivered after the provider accepted
    finds the channel accepted and finishes the same way; one redelivered after the final state
    was written stops, and the container's resend replays the final ack."""
    finish_event(carry)
    if task.request.chain:
        del task.request.chain[:]
    return carry


def _give_up_at(carry: Carry, settings) -> float:
    """The event's deadline or TTL; a NORMAL event held for a digest has its TTL from then."""
    held = carry.held_until + settings.normal_ttl_s if carry.held_until else 0.0
    return max(give_up_at(carry.job, settings.normal_ttl_s, settings.critical_deadline_s), held)


def _precheck(carry: Carry, preference: Preference, kind: int, deps, now: float) -> Outcome | None:
    """An Outcome when the attempt must not even try (expired, no session, not active)."""
    job = carry.job
    if now >= _give_up_at(carry, deps.settings):
        what = "deadline" if job.critical else "TTL"
        return Outcome.skipped(SkipCode.EXPIRED, f"{what} passed before this attempt")
    channel = CHANNELS.get(kind)
    if not preference.only_if_active or channel is None:
        return None  # ACTIVE_SESSION resolves to an active channel, or to none
    if not channel.has_session:
        return Outcome.skipped(
            SkipCode.NO_SESSION, f"only_if_active: {channel.name} has no sessions"
        )
    if not channel.is_active(job.user_id, deps):
        return Outcome.skipped(
            SkipCode.NOT_ACTIVE, f"only_if_active: no live {channel.name} session"
        )
    return None


def _breaker_open(channel: Channel, deps) -> Outcome | None:
    """SKIPPED when the provider's breaker is open (the next channel goes now, and a CRITICAL
    round later tries it again); None to go ahead (closed, or this attempt is the probe)."""
    gate = deps.store.breakers.allows(channel.name, SEND_LEASE_S)
    if gate == "open":
        return Outcome.skipped(
            SkipCode.PROVIDER_DOWN, f"{channel.name} circuit open: recent failures across users"
        )
    if gate == "probe":
        log.info("channel=%s circuit half-open: this attempt is the probe", channel.name)
    return None


def _count_for_breaker(channel: Channel, user_id: str, outcome: Outcome, deps) -> None:
    """A transient answer (5xx, timeout, 429) counts against the provider; a delivery or a
    permanent answer (the provider is up, the address is not) closes its breaker."""
    failed = outcome.kind in (Kind.TRANSIENT, Kind.RATE_LIMITED)
    if not failed and outcome.kind not in (Kind.DELIVERED, Kind.PERMANENT):
        return
    settings = deps.settings
    state = deps.store.breakers.record(
        channel.name,
        user_id,
        failed,
        settings.breaker_failures,
        settings.breaker_window_s,
        settings.breaker_cooldown_s,
    )
    if failed and state == "open":
        log.warning("channel=%s circuit open for %gs", channel.name, settings.breaker_cooldown_s)


def _awaiting_person(task, carry: Carry, link: Link, deps, now: float) -> Carry | None:
    """For an event that waits for a person's acknowledgement: finished when they acked (on
    any channel); this channel given up when its wait is over; parked again while it lasts.
    None: this link has not been accepted yet, and nobody acked: go on and send."""
    job = carry.job
    ack = deps.store.human_acks.acked(job.user_id, job.event_id)
    if ack is not None:
        after = (
            f", {ack.at - link.accepted_at:.1f}s after it was accepted" if link.accepted_at else ""
        )
        entry = {  # at the person's time, not when this attempt noticed
            "time": ack.at,
            "channel": ack.channel,
            "round": job.round,
            "kind": "acknowledged",
            "detail": f"acknowledged by the person on {ack.channel}{after}",
        }
        deps.store.delivery_log.append(job.user_id, job.event_id, entry)
        log.info("channel=%s acknowledged by the person", ack.channel)
        return _finish_here(task, replace(carry, delivered=ChannelType.Value(ack.channel)))
    if link.accepted_at is None:
        return None
    wait_s = deps.settings.human_ack_wait_s
    if now < link.accepted_at + wait_s - PARK_SLACK_S:
        raise _Wait(link.accepted_at + wait_s, link)
    kind = link.resolved if link.resolved is not None else job.plan[link.index].channel
    outcome = Outcome.skipped(
        SkipCode.NOT_ACKNOWLEDGED, f"delivered, not acknowledged within {wait_s:g}s"
    )
    preference = job.plan[link.index]
    return _record(
        task, carry, replace(link, accepted_at=None), preference, kind, outcome, deps, now
    )


def _muted(
    job: Job, link: Link, channel: Channel, notice: Notice, profile: UserProfile
) -> Outcome | None:
    """SKIPPED when the user muted this channel for this event type — except for a CRITICAL
    event whose muted channel is the last one of its plan (better muted than undelivered)."""
    if not profile.is_muted(channel.name, notice.event_type):
        return None
    if job.critical and link.index == len(job.plan) - 1:
        log.info(
            "channel=%s muted for %s, but it is CRITICAL's last channel",
            channel.name,
            notice.event_type,
        )
        return None
    return Outcome.skipped(SkipCode.MUTED, f"{channel.name} muted for {notice.event_type}")


def _send(
    task, carry, link, channel: Channel, notice, profile, deps, now: float, asks: bool = False
) -> Outcome:
    """Send on the concrete channel under the event's send lease, unless a provider already
    accepted it; a channel that awaits the user's ack is polled instead of sent again."""
    job = carry.job
    if channel.awaits_ack:
        # A redelivered task finds its round's publish time and keeps waiting.
        sent_at = link.sent_at
        if sent_at is None:
            sent_at = deps.store.web_acks.published_at(job.user_id, job.event_id, job.round)
        if sent_at is not None:
            return _await_ack(carry, link, channel, sent_at, deps, now)
    token = uuid.uuid4().hex
    claims = deps.store.claims
    claim = channel_claim(channel, job, asks)
    fence, detail = claims.begin_send(
        job.user_id, job.event_id, job.round, claim, token, SEND_LEASE_S, after_acceptance=asks
    )
    if fence == Fence.ACCEPTED:
        # A redelivered task (worker lost after the provider accepted): never send twice.
        return Outcome.delivered(f"already accepted: {detail}")
    if fence == Fence.ELSEWHERE:
        raise _Delivered(ChannelType.Value(detail))
    if fence == Fence.BUSY:
        # Another copy of this attempt is calling a provider: come back once its lease is over.
        raise _Wait(now + int(detail or 0) / 1000 + PARK_SLACK_S)
    if fence != Fence.OK:
        raise _Stop(f"event is {fence.lower()}")
    outcome: Outcome | None = None
    try:
        outcome = deliver(channel, notice, profile, deps)
    finally:
        # The channel claim is written first, in the same step that ends the lease.
        accepted = outcome is not None and outcome.kind == Kind.DELIVERED
        receipt = (outcome.receipt or "") if accepted else None
        claims.end_send(job.user_id, job.event_id, claim, token, receipt)
    if outcome.kind != Kind.AWAITING_ACK:
        return outcome
    deps.store.web_acks.mark_published(job.user_id, job.event_id, job.round, now)
    log.info("channel=%s %s; waiting for the user's ack", channel.name, outcome.detail)
    return _await_ack(carry, link, channel, now, deps, now)


def _await_ack(carry, link, channel: Channel, sent_at: float, deps, now: float) -> Outcome:
    """DELIVERED once the user acked; SKIPPED (not active) after the ack timeout; else look
    again in ACK_POLL_S from the due set — a worker slot is never held while waiting."""
    job = carry.job
    if channel.acked(job.user_id, job.event_id, deps):
        return Outcome.delivered("acked by the web session")
    timeout_s = channel.ack_timeout_s(deps.settings)
    if now - sent_at >= timeout_s:
        return Outcome.skipped(
            SkipCode.NOT_ACTIVE, f"no ack from the web session within {timeout_s:g}s"
        )
    raise _Wait(now + ACK_POLL_S, replace(link, sent_at=sent_at))


class _Wait(Exception):
    """Park the link until `until` (as `link` and with `carry`, when they changed), from deep
    in an attempt."""

    def __init__(self, until: float, link: Link | None = None, carry: Carry | None = None) -> None:
        self.until, self.link, self.carry = until, link, carry


class _Stop(Exception):
    """This chain is obsolete (the event is final, gone, or in another round): end it."""


class _Delivered(Exception):
    """Another channel of this event already accepted it: go to finish."""

    def __init__(self, channel: int) -> None:
        self.channel = channel


def _stop(task, carry: Carry, why: str) -> Carry:
    """End this chain here: no later link, no finish (the event's live chain owns those)."""
    log.info("chain stopped: %s", why)
    if task.request.chain:
        del task.request.chain[:]
    return carry


def _park(task, carry: Carry, link: Link, until: float, deps) -> Carry:
    """Put this link, with the rest of its round, into the due set until `until`, and end
    this message's chain (the scheduler publishes the link again as a new chain's first)."""
    job = carry.job
    entry = json.dumps(ParkedLink(carry, link).to_dict())
    fence = deps.store.claims.park(job.user_id, job.event_id, job.round, link.index, entry, until)
    if fence != Fence.OK:
        return _stop(task, carry, f"event is {fence.lower()}")
    if link.accepted_at is not None:  # parked for the person's acknowledgement
        member = link_member(job.user_id, job.event_id, job.round, link.index)
        deps.store.human_acks.wait(job.user_id, job.event_id, member)
        # Registered after parking, then looked: an ack is never missed, whenever it came.
        if deps.store.human_acks.acked(job.user_id, job.event_id) is not None:
            deps.store.due.retry_at(member, time.time())
    log.info("parked for %.1fs (try %s)", until - time.time(), link.tries)
    if task.request.chain:
        del task.request.chain[:]
    return carry
