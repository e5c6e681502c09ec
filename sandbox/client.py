"""Small httpx helpers for other processes to read and steer a running sandbox through its
control API (``/_sandbox``); `base_url` is the sandbox root, e.g. ``http://127.0.0.1:8590``.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "inject_telegram_message",
    "list_requests",
    "press_telegram_button",
    "reset",
    "set_switch",
]

#: Control calls are local; fail fast when no sandbox answers.
TIMEOUT_S = 5.0


def _control(base_url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(
        method, base_url.rstrip("/") + "/_sandbox" + path, timeout=TIMEOUT_S, **kwargs
    )
    response.raise_for_status()
    return response.json()


def list_requests(base_url: str, provider: str | None = None) -> list[dict[str, Any]]:
    """The sandbox's records, oldest first, optionally of one provider."""
    params = {"provider": provider} if provider else None
    return list(_control(base_url, "GET", "/requests", params=params))


def set_switch(
    base_url: str,
    provider: str,
    mode: str,
    latency_ms: int = 0,
    retry_after: float = 1.0,
    times: int | None = None,
) -> dict[str, Any]:
    """Set one provider's switch; returns it. Raises httpx.HTTPStatusError on a bad value."""
    body = {
        "provider": provider,
        "mode": mode,
        "latency_ms": latency_ms,
        "retry_after": retry_after,
        "times": times,
    }
    return dict(_control(base_url, "POST", "/switches", json=body))


def reset(base_url: str) -> None:
    """Forget every record and queued Telegram update; put every switch back to ok."""
    _control(base_url, "DELETE", "/requests")
    _control(base_url, "DELETE", "/switches")
    _control(base_url, "DELETE", "/telegram/updates")


def inject_telegram_message(
    base_url: str, chat_id: int, text: str, username: str | None = None
) -> dict[str, Any]:
    """Queue an incoming Telegram message for the bot's getUpdates; returns the Update."""
    body: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if username:
        body["username"] = username
    return dict(_control(base_url, "POST", "/telegram/updates", json=body))


def press_telegram_button(
    base_url: str, message_id: int | None = None, data: str | None = None
) -> dict[str, Any]:
    """Queue a press of an inline button of a message the bot sent (message `message_id`'s
    button `data`, default its first; or the newest message with a button `data`), as a
    CallbackQuery update for the bot's getUpdates; returns the Update."""
    body: dict[str, Any] = {}
    if message_id is not None:
        body["message_id"] = message_id
    if data is not None:
        body["data"] = data
    return dict(_control(base_url, "POST", "/telegram/callbacks", json=body))
