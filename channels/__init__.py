"""Provider I/O and rendering only: one module per channel, each a `Channel` (channels/base.py),
registered once in `CHANNELS`; every channel returns an Outcome, never raises.

Everything that lists channels derives from `CHANNELS`: the queues (tasks/queues.py), the
attempt dispatch, `only_if_active`, ACTIVE_SESSION, `notify user set`'s address flags and the
sandbox's providers. Importing this package loads no provider SDK: each channel imports its SDK
when it builds its client, in the worker.
"""

from __future__ import annotations

from proto import ChannelType

from .ack_links import ACK_PATH, ack_url, read_ack_link
from .base import AddressSpec, Channel
from .deliver import deliver
from .deps import Deps
from .digest import digest_item, digest_notice
from .discord import CHANNEL as DISCORD
from .email import CHANNEL as EMAIL
from .notice import Notice
from .outcome import Kind, Outcome, SkipCode
from .push import CHANNEL as PUSH
from .render import Summary, summarize
from .slack import CHANNEL as SLACK
from .telegram import CHANNEL as TELEGRAM
from .web import CHANNEL as WEB

__all__ = [
    "ACK_PATH",
    "CHANNELS",
    "AddressSpec",
    "Channel",
    "Deps",
    "Kind",
    "Notice",
    "Outcome",
    "SkipCode",
    "ack_url",
    "read_ack_link",
    "Summary",
    "deliver",
    "digest_item",
    "digest_notice",
    "resolve_active_session",
    "summarize",
]

#: Every concrete channel of the proto, in the order ACTIVE_SESSION tries session channels.
CHANNELS: dict[int, Channel] = {
    ChannelType.WEB: WEB,
    ChannelType.TELEGRAM: TELEGRAM,
    ChannelType.EMAIL: EMAIL,
    ChannelType.PUSH: PUSH,
    ChannelType.DISCORD: DISCORD,
    ChannelType.SLACK: SLACK,
}


def resolve_active_session(user_id: str, deps: Deps) -> Channel | None:
    """ACTIVE_SESSION at delivery time: the first channel with a live session (the user's web
    session, else a recently active Telegram chat), or None."""
    for channel in CHANNELS.values():
        if channel.has_session and channel.is_active(user_id, deps):
            return channel
    return None
