"""One attempt on one concrete channel: find the address, render, send; always an Outcome.

The channel table maps each concrete ChannelType name to its module and the directory field
that holds the user's address there. ACTIVE_SESSION is resolved by the tasks before this, and
WEB (publish, then wait for the browser's ack) is driven by the tasks through channels.web.
"""

from __future__ import annotations

import logging
from types import ModuleType

from store import UserProfile

from . import discord, email, push, slack, telegram
from .deps import Deps
from .notice import Notice
from .outcome import Outcome, SkipCode

__all__ = ["ADDRESSED_CHANNELS", "attempt_channel"]

log = logging.getLogger(__name__)

#: Concrete channel -> (module with render/send, UserProfile field holding the address).
ADDRESSED_CHANNELS: dict[str, tuple[ModuleType, str]] = {
    "DISCORD": (discord, "discord_webhook"),
    "SLACK": (slack, "slack_webhook"),
    "EMAIL": (email, email.ADDRESS_FIELD),
    "TELEGRAM": (telegram, telegram.ADDRESS_FIELD),
}


def attempt_channel(
    channel: str, notice: Notice, frame: bytes, profile: UserProfile | None, deps: Deps
) -> Outcome:
    """Deliver on `channel`; any exception inside a channel becomes a TRANSIENT outcome."""
    try:
        if channel == "PUSH":
            # Several devices; unregistered ones are removed from the profile by push.send.
            tokens = profile.push_tokens if profile else ()
            return push.send(push.render(notice), tokens, deps, notice.user_id)
        if channel not in ADDRESSED_CHANNELS:
            return Outcome.skipped(SkipCode.UNSUPPORTED, f"channel {channel} is not available yet")
        module, address_field = ADDRESSED_CHANNELS[channel]
        address = getattr(profile, address_field, "") if profile else ""
        if not address:
            return Outcome.skipped(SkipCode.NO_ADDRESS, f"no {address_field} for user")
        return module.send(module.render(notice), address, deps)
    except Exception as exc:  # a bug in render/send must not break the chain
        log.exception("channel=%s unexpected error", channel)
        return Outcome.transient(f"internal error: {type(exc).__name__}: {exc}")
