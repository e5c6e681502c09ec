"""What a person would have seen: the message text inside each provider's request body.

Used for the record's "summary" and so for the "what would have been sent" page.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["summarize"]


def summarize(provider: str, path: str, payload: Any) -> str:
    """The message text carried by one request, or "" when it carries none."""
    if not isinstance(payload, dict):
        return ""
    pick = _BY_PROVIDER.get(provider)
    return pick(path, payload).strip() if pick else ""


def _lines(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts if isinstance(p, str | int | float) and str(p))


def _discord(path: str, payload: dict[str, Any]) -> str:
    parts: list[Any] = [payload.get("content")]
    for embed in payload.get("embeds") or []:
        if isinstance(embed, dict):
            parts += [embed.get("title"), embed.get("description")]
    return _lines(*parts)


def _slack(path: str, payload: dict[str, Any]) -> str:
    if isinstance(payload.get("payload"), str):  # form-encoded `payload=<json>`
        try:
            payload = json.loads(payload["payload"])
        except ValueError:
            return ""
        if not isinstance(payload, dict):
            return ""
    parts: list[Any] = [payload.get("text")]
    if not parts[0]:
        for block in payload.get("blocks") or []:
            text = block.get("text") if isinstance(block, dict) else None
            parts.append(text.get("text") if isinstance(text, dict) else None)
    return _lines(*parts)


def _telegram(path: str, payload: dict[str, Any]) -> str:
    return _lines(payload.get("text")) if path.endswith("/sendMessage") else ""


def _sendgrid(path: str, payload: dict[str, Any]) -> str:
    subject = payload.get("subject")
    for personalization in payload.get("personalizations") or []:
        if isinstance(personalization, dict) and personalization.get("subject"):
            subject = personalization["subject"]
    contents = [c for c in payload.get("content") or [] if isinstance(c, dict)]
    plain = [c.get("value") for c in contents if c.get("type") == "text/plain"]
    return _lines(subject, *(plain or [c.get("value") for c in contents[:1]]))


def _fcm(path: str, payload: dict[str, Any]) -> str:
    message = payload.get("message")
    if not isinstance(message, dict):
        return ""
    notification = message.get("notification")
    if isinstance(notification, dict) and (notification.get("title") or notification.get("body")):
        return _lines(notification.get("title"), notification.get("body"))
    data = message.get("data")
    return json.dumps(data, sort_keys=True) if isinstance(data, dict) and data else ""


_BY_PROVIDER = {
    "discord": _discord,
    "slack": _slack,
    "telegram": _telegram,
    "sendgrid": _sendgrid,
    "fcm": _fcm,
}
