"""One attempt on one concrete channel: find the address, check the provider is configured,
render, send. Always an Outcome: a bug inside a channel becomes TRANSIENT here, the one place."""

from __future__ import annotations

import time
from dataclasses import replace

from proto import EventType, supersede_key
from store import UserProfile

from .base import Channel
from .deps import Deps
from .errors import internal_error
from .notice import IN_WORDS, Notice
from .outcome import Kind, Outcome, SkipCode

__all__ = ["deliver"]


def deliver(channel: Channel, notice: Notice, profile: UserProfile, deps: Deps) -> Outcome:
    """Deliver `notice` on `channel` to the user of `profile`; never raises. An update about a
    thing this channel already showed (proto.supersede_key) is shown in place of it where the
    channel can edit (Telegram), and the delivery log's detail says "edited in place"."""
    try:
        if channel.name in deps.settings.channels_off_names:
            return Outcome.permanent(f"{channel.name.lower()} is off: NOTIFY_CHANNELS_OFF")
        address = channel.address(profile)
        if not address:
            field = channel.address_spec.field if channel.address_spec else "address"
            return Outcome.skipped(SkipCode.NO_ADDRESS, f"no {field} for user")
        if channel.client_setting and deps.client(channel.type) is None:
            return Outcome.permanent(
                f"{channel.name.lower()} not configured: {channel.client_setting} unset"
            )
        rendered = channel.render(notice)
        key = (
            supersede_key(EventType.Value(notice.event_type), notice.payload)
            if channel.can_edit and notice.event_type != IN_WORDS
            else None
        )
        shown = deps.store.supersessions.shown(notice.user_id, key, channel.name) if key else None
        started = time.perf_counter()
        outcome = channel.edit(rendered, address, shown, deps) if shown else None
        if outcome is None:
            outcome = channel.send(rendered, address, deps)
        if key and outcome.kind == Kind.DELIVERED and outcome.receipt:
            deps.store.supersessions.show(notice.user_id, key, channel.name, outcome.receipt)
        return replace(outcome, latency_s=round(time.perf_counter() - started, 6))
    except Exception as exc:  # a bug in render/send must not break the chain
        return internal_error(exc, channel.name)
