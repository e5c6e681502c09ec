"""The person of `notify demo`: reads what the sandbox's providers received and, a few seconds
after a message asks for an acknowledgement, says "Got it" the way a person would: presses the
Telegram button (queued in the sandbox as a real chat's press; the bot handles it), or opens the
one-click link of an email, push, Slack or Discord message and confirms it."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import httpx

from channels import ACK_PATH
from channels.telegram import ACK_CALLBACK

__all__ = ["Person"]

#: A one-click acknowledgement link in a message.
_LINK = re.compile(r"https?://[^\s\"'<>]+" + re.escape(ACK_PATH) + r"[A-Za-z0-9_.\-]+")
#: Where the sandbox records each provider's messages.
_CHANNELS = {"telegram": "TELEGRAM", "sendgrid": "EMAIL", "fcm": "PUSH", "discord": "DISCORD",
             "slack": "SLACK"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Ask:
    """One message that asks for an acknowledgement: where, for whom, and how to answer it."""

    channel: str
    user: str
    telegram_data: str = ""
    link: str = ""


class Person:
    """Answers every ask `delay_s` after it showed up in the sandbox; `users` names the demo's
    users (found in the addresses the providers were called with)."""

    def __init__(self, sandbox_url: str, users: tuple[str, ...], delay_s: float = 3.0) -> None:
        self._sandbox_url = sandbox_url
        self._users = users
        self._delay_s = delay_s
        self._seen: set[str] = set()
        self._due: list[tuple[float, _Ask]] = []
        self.pressed = 0

    def look(self, chats: dict[str, str]) -> list[str]:
        """Read new messages, answer the asks that are due; returns a line per answer.
        `chats`: Telegram chat id -> user."""
        from sandbox import list_requests

        now = time.monotonic()
        for record in list_requests(self._sandbox_url):
            ask = self._ask(record, chats)
            if ask is not None and (key := ask.telegram_data or ask.link) not in self._seen:
                self._seen.add(key)
                self._due.append((now + self._delay_s, ask))
        lines = []
        for due, ask in [d for d in self._due if d[0] <= now]:
            self._due.remove((due, ask))
            lines.append(self._answer(ask))
        return lines

    def _ask(self, record: dict, chats: dict[str, str]) -> _Ask | None:
        channel = _CHANNELS.get(record.get("provider", ""))
        if channel is None or record.get("status", 500) >= 300:
            return None
        body = record.get("json")
        if not isinstance(body, dict):  # getMe, getUpdates and the like
            return None
        text = json.dumps(body)
        if channel == "TELEGRAM":
            markup = body.get("reply_markup")
            markup = json.loads(markup) if isinstance(markup, str) else markup or {}
            datas = [
                b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row
            ]
            data = next((d for d in datas if d.startswith(ACK_CALLBACK)), "")
            user = chats.get(str(body.get("chat_id")), "?")
            return _Ask(channel, user, telegram_data=data) if data else None
        link = _LINK.search(text)
        if link is None:
            return None
        user = next((u for u in self._users if u in text or u in record.get("path", "")), "?")
        return _Ask(channel, user, link=link.group(0))

    def _answer(self, ask: _Ask) -> str:
        from sandbox import press_telegram_button

        try:
            if ask.telegram_data:
                press_telegram_button(self._sandbox_url, data=ask.telegram_data)
                what = 'presses "Got it" in Telegram'
            else:
                httpx.get(ask.link, params={"confirm": "yes"}, timeout=5).raise_for_status()
                what = f"opens the {ask.channel.lower()} link and confirms"
        except httpx.HTTPError as exc:
            return f"{ask.user:6} could not answer on {ask.channel}: {exc}"
        self.pressed += 1
        return f"{ask.user:6} {what}"
