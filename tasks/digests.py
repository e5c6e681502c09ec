"""Holding NORMAL events back for one digest per user and channel: during the user's quiet
hours (until they end), and beyond the flood guard's limit (until its window ends). CRITICAL
events are never held. The container gets DELIVERED for each held event once the digest that
carried it was accepted (via that digest's channel).

An attempt that finds its event held parks until the hold ends (no worker slot is kept); the
first one to wake with the digest's lease sends it, with every held event that is due, and the
others find theirs sent. A digest the provider refuses goes through that attempt's own retries
and escalation; the other held events try again on their own.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from channels import Channel, Kind, Notice, Outcome, deliver, digest_item, digest_notice
from proto import AckStatus, held_message
from store import UserProfile

from .contract import Job
from .escalation import give_up_at
from .quiet_hours import QuietHours, QuietHoursError
from .relay import send_ack
from .timing import SEND_LEASE_S

__all__ = ["digest_step"]

log = logging.getLogger(__name__)

#: How soon an attempt whose digest another attempt is sending looks again.
LOOK_AGAIN_S = 1.0
QUIET = "during quiet hours"
FLOOD = "from a flood of events"


def digest_step(
    job: Job, channel: Channel, notice: Notice, profile: UserProfile, deps, now: float
) -> Outcome | float | None:
    """For a NORMAL event on an external channel: an Outcome (it went out in a digest), a time
    to park until (held), or None (not held: send it as usual)."""
    store = deps.store.digests
    sent, until = store.state(job.user_id, channel.name, job.event_id)
    if sent is not None:
        return replace(
            Outcome.delivered(), detail=f"in a digest of {sent.events} events on {sent.channel}"
        )
    if until is not None:
        return until if now < until else _send_digest(job, channel, profile, deps, now)
    if not channel.address(profile):
        return None  # nowhere to send a digest: the attempt says why as usual
    hold = _hold(job, notice, profile, deps, now)
    if hold is None:
        return None
    until, why = hold
    store.hold(job.user_id, channel.name, job.event_id, digest_item(notice, until) | {"why": why})
    log.info("channel=%s held for a digest %s until %.0f", channel.name, why, until)
    settings = deps.settings
    # The TTL counts from the end of the hold (the sweep too); when that is past the TTL, the
    # container is told until when (and told again on each resend: the claim keeps it).
    longer = until > give_up_at(job, settings.normal_ttl_s, settings.critical_deadline_s)
    note = held_message(until) if longer else ""
    where = deps.store.claims.hold(job.user_id, job.event_id, until, note)
    if where is not None and longer:
        send_ack(*where, job.event_id, AckStatus.QUEUED, error=note)
    return until


def _hold(
    job: Job, notice: Notice, profile: UserProfile, deps, now: float
) -> tuple[float, str] | None:
    """(until, why) when the event must wait for a digest, else None."""
    settings = deps.settings
    if profile.quiet:
        try:
            quiet = QuietHours.parse(profile.quiet, profile.timezone)
        except QuietHoursError as exc:  # `notify user set` refuses these; never block delivery
            log.warning("user=%s quiet hours ignored: %s", job.user_id, exc)
        else:
            ends = quiet.ends_at(now + settings.clock_offset_s)
            if ends is not None:
                return ends - settings.clock_offset_s, QUIET
    if settings.flood_limit:
        window_s = settings.flood_window_s
        window = int(now // window_s)
        rank = deps.store.digests.flood_rank(
            job.user_id, notice.event_type, job.event_id, window, 2 * window_s + 60
        )
        if rank > settings.flood_limit:
            return float((window + 1) * window_s), FLOOD
    return None


def _send_digest(
    job: Job, channel: Channel, profile: UserProfile, deps, now: float
) -> Outcome | float:
    """Send the channel's digest of every held event that is due and still open, under its
    lease. Refused: this event goes on alone (its retries, then its next channel), and each
    other held event tries the digest again when it wakes."""
    store = deps.store.digests
    token = uuid.uuid4().hex
    if not store.begin(job.user_id, channel.name, token, SEND_LEASE_S):
        return now + LOOK_AGAIN_S  # another attempt is sending it
    outcome: Outcome | None = None
    carried: list[str] = []
    dropped: list[str] = []
    try:
        due = {
            event_id: item
            for event_id, item in store.held(job.user_id, channel.name).items()
            if item["until"] <= now
        }
        # Superseded, expired or delivered elsewhere meanwhile: not in the digest.
        still_open = deps.store.claims.still_open(job.user_id, list(due))
        dropped = [event_id for event_id in due if event_id not in still_open]
        items = sorted(
            (item["time"], event_id, item)
            for event_id, item in due.items()
            if event_id in still_open
        )
        carried = [event_id for _, event_id, _ in items]
        if job.event_id not in carried:  # sent by another attempt just now
            carried = []
            return now + LOOK_AGAIN_S
        whys = {item.get("why", QUIET) for _, _, item in items}
        why = whys.pop() if len(whys) == 1 else "held back"
        notice = digest_notice(job.user_id, [item for _, _, item in items], why)
        outcome = deliver(channel, notice, profile, deps)
    finally:
        accepted = outcome is not None and outcome.kind == Kind.DELIVERED
        if not accepted and outcome is not None:
            dropped.append(job.event_id)
        store.end(job.user_id, channel.name, token, carried if accepted else [], dropped, now)
    if outcome.kind == Kind.DELIVERED:
        log.info("channel=%s digest of %d events sent", channel.name, len(carried))
        detail = f"in a digest of {len(carried)} events on {channel.name}: {outcome.detail}"
        return replace(outcome, detail=detail)
    log.warning(
        "channel=%s digest refused (%s): this event goes on alone", channel.name, outcome.kind
    )
    return outcome
