"""Provider I/O and rendering only: every channel returns an Outcome, never raises."""

from . import discord, email, push, slack, telegram, web
from .deps import Deps
from .dispatch import ADDRESSED_CHANNELS, attempt_channel
from .notice import Notice
from .outcome import Kind, Outcome, SkipCode
from .render import Summary, summarize

__all__ = [
    "ADDRESSED_CHANNELS",
    "Deps",
    "Kind",
    "Notice",
    "Outcome",
    "SkipCode",
    "Summary",
    "attempt_channel",
    "discord",
    "email",
    "push",
    "slack",
    "summarize",
    "telegram",
    "web",
]
