"""Slack delivery: render an event as Block Kit with fallback text, POST it to the webhook.

Endpoint: the user's incoming-webhook URL (subscriber directory, `slack_webhook`).
Settings: `NOTIFY_PROVIDER_TIMEOUT_S`. Error map: channels/webhook.py (Slack answers plain
text: `no_service`, `invalid_token`, `channel_is_archived` -> permanent).
"""

from __future__ import annotations

from typing import Any

from proto import ChannelType

from .base import AddressSpec, Channel
from .deps import Deps
from .notice import Notice
from .outcome import Outcome
from .render import summarize
from .webhook import check_url, post_json

__all__ = ["CHANNEL", "Slack"]


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting):
    with `&`, `<` and `>` escaped no text can form a link (`<url|text>`), a mention or a
    command; Slack has no escape for `*`, `_` and `~`, which only style text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Slack(Channel):
    """An incoming webhook: `text` is the notification fallback; blocks carry the details."""

    __slots__ = ()
    type = ChannelType.SLACK
    address_spec = AddressSpec("slack_webhook", "--slack-webhook", "Slack incoming-webhook URL.")
    sandbox = "slack"

    def check_address(self, value: str) -> str | None:
        return check_url(value)

    def render(self, notice: Notice) -> dict[str, Any]:
        summary = summarize(notice)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": summary.title[:150]}}
        ]
        if summary.lines:
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _escape("\n".join(summary.lines))[:3000]},
                }
            )
        if notice.ack_url:
            link = f"<{notice.ack_url}|Got it: acknowledge>"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": link}})
        footer = _escape(f"{notice.priority} · {notice.event_id}")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
        return {"text": _escape(summary.text)[:3000], "blocks": blocks}

    def send(self, rendered: dict[str, Any], address: str, deps: Deps) -> Outcome:
        return post_json(deps.http, "slack", address, rendered, deps.settings.provider_timeout_s)


CHANNEL = Slack()
