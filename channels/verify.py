"""`notify user verify`: one test notification through each channel the user has an address
for, through the same `deliver` as every event (the provider answers for real)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from store import UserProfile

from . import CHANNELS
from .deliver import deliver
from .deps import Deps
from .notice import Notice
from .outcome import Outcome

__all__ = ["verify_channels"]


def verify_channels(profile: UserProfile, deps: Deps) -> list[tuple[str, Outcome]]:
    """(channel name, its provider's answer) for each channel with an address, in plan order;
    WEB has no address (a live page shows itself) and is not in the list."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    results = []
    for channel in CHANNELS.values():
        if channel.address_spec is None or not channel.address(profile):
            continue
        notice = Notice.in_words(
            profile.user_id,
            f"verify-{uuid.uuid4().hex[:12]}",
            "Test notification",
            [f"This {channel.name.lower()} channel reaches you ({when}).", "Nothing to do."],
        )
        started = time.perf_counter()
        outcome = deliver(channel, notice, profile, deps)
        results.append((channel.name, outcome))
        time.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))  # gentle on providers
    return results
