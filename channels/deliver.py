"""One attempt on one concrete channel: find the address, check the provider is configured,
render, send. Always an Outcome: a bug inside a channel becomes TRANSIENT here, the one place."""

from __future__ import annotations

import time
from dataclasses import replace

from store import UserProfile

from .base import Channel
from .deps import Deps
from .errors import internal_error
from .notice import Notice
from .outcome import Outcome, SkipCode

__all__ = ["deliver"]


def deliver(channel: Channel, notice: Notice, profile: UserProfile, deps: Deps) -> Outcome:
    """Deliver `notice` on `channel` to the user of `profile`; never raises."""
    try:
        address = channel.address(profile)
        if not address:
            field = channel.address_spec.field if channel.address_spec else "address"
            return Outcome.skipped(SkipCode.NO_ADDRESS, f"no {field} for user")
        if channel.client_setting and deps.client(channel.type) is None:
            return Outcome.permanent(
                f"{channel.name.lower()} not configured: {channel.client_setting} unset"
            )
        rendered = channel.render(notice)
        started = time.perf_counter()
        outcome = channel.send(rendered, address, deps)
        return replace(outcome, latency_s=round(time.perf_counter() - started, 6))
    except Exception as exc:  # a bug in render/send must not break the chain
        return internal_error(exc, channel.name)
