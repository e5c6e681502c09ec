"""The sandbox's memory: every recorded request, the per-provider failure switches, and the
Telegram inbox of injected updates.

One `SandboxState` is shared by the app's handlers (uvicorn's thread) and by whoever holds the
`SandboxServer` (a test's thread), so every method takes the one lock.

A record is a dict::

    {"id": int, "provider": one of PROVIDERS ("telegram", "sendgrid", "fcm", ..., "oauth"),
     "method": str, "path": str, "query": dict[str, str],
     "json": parsed JSON body, or the fields of a form body (str values), or None,
     "body": text body (first 64 KiB), "status": int the sandbox answered, "time": float,
     "summary": str, the message text a person would have seen ("" when the request carries none)}

Headers are never stored, so neither is an Authorization header.

A switch is a dict::

    {"mode": "ok" | "rate_limit" | "server_error" | "permanent", "latency_ms": int,
     "retry_after": float, "times": int | None}

`times` applies the failure mode to the next N requests of that provider, then the mode goes back
to "ok" (latency stays); None applies it until changed.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections import deque
from typing import Any

from channels import CHANNELS

__all__ = [
    "DELIVERY_PROVIDERS",
    "MAX_BODY_CHARS",
    "MAX_RECORDS",
    "MODES",
    "PROVIDERS",
    "SandboxState",
    "default_switch",
]

#: The providers the channels deliver through (each channel's `sandbox`), in registry order.
DELIVERY_PROVIDERS = tuple(c.sandbox for c in CHANNELS.values() if c.sandbox)
#: Every provider the sandbox speaks for (FCM's OAuth token endpoint too); each has a switch.
PROVIDERS = (*DELIVERY_PROVIDERS, "oauth")
#: Every switch mode.
MODES = ("ok", "rate_limit", "server_error", "permanent")
#: Text bodies are kept up to this many characters.
MAX_BODY_CHARS = 64 * 1024
#: The oldest records are dropped past this many (a polling bot would otherwise grow memory).
MAX_RECORDS = 10_000


def default_switch() -> dict[str, Any]:
    """The switch every provider starts with: answer normally, at once."""
    return {"mode": "ok", "latency_ms": 0, "retry_after": 1.0, "times": None}


class SandboxState:
    """Thread-safe record list, failure switches and Telegram inbox."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self._lock = threading.Lock()
        self._records: deque[dict[str, Any]] = deque(maxlen=max_records)
        self._record_ids = itertools.count(1)
        self._switches = {p: default_switch() for p in PROVIDERS}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._chats: dict[int, dict[str, Any]] = {}
        #: Messages the bot sent, by message id: what editMessageText may change.
        self._sent: dict[int, dict[str, Any]] = {}

    # -- records -------------------------------------------------------------------------------

    def record(
        self,
        *,
        provider: str,
        method: str,
        path: str,
        query: dict[str, str],
        json: Any,
        body: str,
        status: int,
        summary: str = "",
    ) -> dict[str, Any]:
        """Append one record and return a copy of it."""
        with self._lock:
            entry = {
                "id": next(self._record_ids),
                "provider": provider,
                "method": method,
                "path": path,
                "query": dict(query),
                "json": json,
                "body": body[:MAX_BODY_CHARS],
                "status": status,
                "time": time.time(),
                "summary": summary,
            }
            self._records.append(entry)
            return copy.deepcopy(entry)

    def requests(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Copies of the records, oldest first, optionally of one provider."""
        with self._lock:
            chosen = [r for r in self._records if provider is None or r["provider"] == provider]
            return copy.deepcopy(chosen)

    def clear_requests(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    # -- switches ------------------------------------------------------------------------------

    def switches(self) -> dict[str, dict[str, Any]]:
        """A copy of every provider's switch."""
        with self._lock:
            return copy.deepcopy(self._switches)

    def set_switch(
        self,
        provider: str,
        mode: str = "ok",
        latency_ms: int = 0,
        retry_after: float = 1.0,
        times: int | None = None,
    ) -> dict[str, Any]:
        """Replace one provider's switch; raises ValueError on an unknown provider or mode."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        if times is not None and int(times) < 0:
            raise ValueError("times must be >= 0 or null")
        switch = {
            "mode": mode,
            "latency_ms": max(0, int(latency_ms)),
            "retry_after": max(0.0, float(retry_after)),
            "times": None if times is None else int(times),
        }
        with self._lock:
            self._switches[provider] = switch
            return dict(switch)

    def reset_switches(self) -> None:
        """Every provider back to ok, no latency."""
        with self._lock:
            self._switches = {p: default_switch() for p in PROVIDERS}

    def take(self, provider: str) -> dict[str, Any]:
        """The switch in force for one incoming request, counting it against `times`.

        The returned copy's mode is what this request gets; once `times` reaches 0 the stored
        switch goes back to "ok".
        """
        with self._lock:
            switch = self._switches[provider]
            effective = dict(switch)
            if switch["mode"] != "ok" and switch["times"] is not None:
                if switch["times"] <= 0:
                    effective["mode"] = "ok"
                    switch["mode"], switch["times"] = "ok", None
                else:
                    switch["times"] -= 1
                    if switch["times"] == 0:
                        switch["mode"], switch["times"] = "ok", None
            return effective

    # -- Telegram inbox ------------------------------------------------------------------------

    def queue_update(self, chat_id: int, text: str, username: str | None = None) -> dict[str, Any]:
        """Queue an incoming private-chat Message update (as if a user wrote to the bot)."""
        with self._lock:
            user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Sandbox User"}
            chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": "Sandbox User"}
            if username:
                user["username"] = chat["username"] = username
            self._chats[chat_id] = chat
            update = {
                "update_id": next(self._update_ids),
                "message": {
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "chat": chat,
                    "from": user,
                    "text": text,
                },
            }
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                update["message"]["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": len(command)}
                ]
            self._updates.append(update)
            return copy.deepcopy(update)

    def queue_callback(
        self, message_id: int | None = None, data: str | None = None
    ) -> dict[str, Any] | None:
        """Queue a CallbackQuery update: the chat's user pressed an inline button of a message
        the bot sent: message `message_id`'s button `data` (default its first), or the newest
        message with a button `data`. None when there is no such message or button."""
        with self._lock:
            candidates = (
                [self._sent.get(message_id)] if message_id is not None else self._sent.values()
            )
            found = [
                (m, datas)
                for m in candidates
                if m is not None and (datas := _button_data(m)) and (data is None or data in datas)
            ]
            if not found:
                return None
            message, datas = found[-1]
            chat = message["chat"]
            user = {"id": chat["id"], "is_bot": False, "first_name": "Sandbox User"}
            if chat.get("username"):
                user["username"] = chat["username"]
            update_id = next(self._update_ids)
            update = {
                "update_id": update_id,
                "callback_query": {
                    "id": str(update_id),
                    "from": user,
                    "message": copy.deepcopy(message),
                    "chat_instance": str(chat["id"]),
                    "data": data if data is not None else datas[0],
                },
            }
            self._updates.append(update)
            return copy.deepcopy(update)

    def updates(self, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Bot API getUpdates: confirm (drop) updates below `offset`, return the rest."""
        with self._lock:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            return copy.deepcopy(self._updates[: max(1, min(limit, 100))])

    def clear_updates(self) -> None:
        """Drop every queued update and forget the chats they came from."""
        with self._lock:
            self._updates.clear()
            self._chats.clear()

    def keep_sent(self, message: dict[str, Any]) -> None:
        """Remember a message the bot sent (the newest 10,000)."""
        with self._lock:
            self._sent[message["message_id"]] = message
            while len(self._sent) > 10_000:
                self._sent.pop(next(iter(self._sent)))

    def sent(self, message_id: int) -> dict[str, Any] | None:
        with self._lock:
            message = self._sent.get(message_id)
            return copy.deepcopy(message) if message is not None else None

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages the bot sent to one chat (as they are now), oldest first."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._sent.values() if m["chat"]["id"] == chat_id]

    def chat(self, chat_id: int) -> dict[str, Any] | None:
        """The chat an injected update came from, if any."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return dict(chat) if chat else None

    def chat_by_username(self, username: str) -> dict[str, Any] | None:
        """The chat of the user with this username who wrote to the bot, if any."""
        with self._lock:
            for chat in self._chats.values():
                if chat.get("username") == username:
                    return dict(chat)
            return None

    def next_message_id(self) -> int:
        """A fresh id for a sent message (Telegram message_id, FCM message name)."""
        with self._lock:
            return next(self._message_ids)


def _button_data(message: dict[str, Any]) -> list[str]:
    """The callback data of a message's inline buttons."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [b["callback_data"] for row in rows for b in row if b.get("callback_data")]
