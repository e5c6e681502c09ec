"""Slack delivery: render an event as Block Kit with fallback text, POST it to the webhook.

Endpoint: the user's incoming-webhook URL (subscriber directory, `slack_webhook`).
Settings: `NOTIFY_PROVIDER_TIMEOUT_S`. Error map: channels/webhook.py (Slack answers plain
text: `no_service`, `invalid_token`, `channel_is_archived` -> permanent).
"""

from __future__ import annotations

from typing import Any

from .deps import Deps
from .notice import Notice
from .outcome import Outcome
from .render import summarize
from .webhook import post_json

__all__ = ["render", "send"]


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(notice: Notice) -> dict[str, Any]:
    """`text` is the notification fallback; blocks carry the title and the detail lines."""
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
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": _escape(f"{notice.priority} · {notice.event_id}")}
            ],
        }
    )
    return {"text": _escape(summary.text)[:3000], "blocks": blocks}


def send(body: dict[str, Any], webhook_url: str, deps: Deps) -> Outcome:
    """One POST to the webhook."""
    return post_json(deps.http, "slack", webhook_url, body, deps.settings.provider_timeout_s)
