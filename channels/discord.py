"""Discord delivery: render an event as a webhook embed, POST it, map the answer to an Outcome.

Endpoint: the user's incoming-webhook URL (subscriber directory, `discord_webhook`).
Settings: `NOTIFY_PROVIDER_TIMEOUT_S`. Error map: channels/webhook.py (429 reads Discord's
`retry_after`; 404 "Unknown Webhook" is permanent).
"""

from __future__ import annotations

import re
from typing import Any

from proto import ChannelType

from .base import AddressSpec, Channel
from .deps import Deps
from .notice import Notice
from .outcome import Outcome
from .render import summarize
from .webhook import check_url, post_json

__all__ = ["CHANNEL", "Discord"]

#: Discord markdown anywhere in a line: emphasis, code, spoilers, masked links ([text](url)),
#: angle-bracket links and mentions, and the escape itself.
_INLINE = re.compile(r"([\\*_~`|\[\]<])")
#: ... and at the start of a line: quotes, headings, lists.
_LINE_START = re.compile(r"^(\s*)([>#-])", re.MULTILINE)


def escape(text: str) -> str:
    """Text that Discord shows as written: no formatting, no masked link, no heading."""
    return _LINE_START.sub(r"\1\\\2", _INLINE.sub(r"\\\1", text))


#: Embed colour per priority (Discord wants an int).
COLOURS = {"CRITICAL": 0xE03131, "NORMAL": 0x1C7ED6, "INFORMATIONAL": 0x868E96}


class Discord(Channel):
    """An incoming webhook: plain `content` for notifications and one embed with the details."""

    __slots__ = ()
    type = ChannelType.DISCORD
    address_spec = AddressSpec(
        "discord_webhook", "--discord-webhook", "Discord incoming-webhook URL."
    )
    sandbox = "discord"

    def check_address(self, value: str) -> str | None:
        return check_url(value)

    def render(self, notice: Notice) -> dict[str, Any]:
        summary = summarize(notice)
        embed = {
            "title": escape(summary.title)[:256],
            "description": "\n".join(escape(line) for line in summary.lines)[:4096],
            "color": COLOURS.get(notice.priority, COLOURS["NORMAL"]),
            "footer": {"text": f"{notice.priority} · {notice.event_id}"[:2048]},
        }
        if notice.ack_url:
            embed["fields"] = [{"name": "Got it?", "value": f"[Acknowledge]({notice.ack_url})"}]
        # No mentions can be triggered by user-supplied text.
        return {
            "content": escape(summary.title)[:2000],
            "embeds": [embed],
            "allowed_mentions": {"parse": []},
        }

    def send(self, rendered: dict[str, Any], address: str, deps: Deps) -> Outcome:
        return post_json(deps.http, "discord", address, rendered, deps.settings.provider_timeout_s)


CHANNEL = Discord()
