"""Telegram account links in Redis: one-time `/start` tokens, chat -> user index, chat activity.

A user is linked by opening `https://t.me/<bot>?start=<token>`: the bot consumes the token
(atomic GETDEL, so it works once) and stores the chat id on the user's profile
(`telegram_chat` in the directory) and in a chat -> users index. Whenever a linked chat writes
to the bot, its users are marked active for `NOTIFY_TELEGRAM_ACTIVE_S`; `only_if_active` and
ACTIVE_SESSION read that mark. Keys: `tglink:<token>`, `tgchat:<chat_id>`, `tgactive:{user}`
(store/keys.py).
"""

from __future__ import annotations

import re
import secrets
import time

import redis

from .directory import Directory, UserProfile
from .keys import Keys

__all__ = ["LINK_TOKEN_PATTERN", "LINK_TOKEN_TTL_S", "TelegramLinks"]

#: How long a link token waits for its `/start`.
LINK_TOKEN_TTL_S = 24 * 3600
#: What Telegram allows as a deep-link `start` parameter (and what we generate).
LINK_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Random bytes per token: 24 bytes -> 32 URL-safe characters.
_TOKEN_BYTES = 24


class TelegramLinks:
    """Link tokens, the chat -> users index and the per-user "wrote to the bot" mark.

    Parameters: `client`, the Redis connection; `keys`, the key builder; `directory`, the
    subscriber directory whose `telegram_chat` field `link` / `unlink` write.
    """

    def __init__(self, client: redis.Redis, keys: Keys, directory: Directory) -> None:
        self._client = client
        self._keys = keys
        self._directory = directory

    # -- one-time link tokens --------------------------------------------------------------------

    def create_link_token(self, user_id: str, ttl_s: int = LINK_TOKEN_TTL_S) -> str:
        """A fresh one-time token (`[A-Za-z0-9_-]`, 32 chars) that links `user_id` when used."""
        while True:
            token = secrets.token_urlsafe(_TOKEN_BYTES)
            if self._client.set(self._keys.telegram_link(token), user_id, ex=ttl_s, nx=True):
                return token

    def consume_link_token(self, token: str) -> str | None:
        """The user id of a valid token, exactly once; None for an unknown, used or expired one."""
        if not LINK_TOKEN_PATTERN.fullmatch(token):
            return None
        value = self._client.getdel(self._keys.telegram_link(token))
        return value.decode() if isinstance(value, bytes) else value

    # -- chat <-> user ----------------------------------------------------------------------------

    def link(self, user_id: str, chat_id: int | str) -> UserProfile:
        """Store `chat_id` as the user's Telegram address and index it; returns the new profile.

        Also used when Telegram reports that a group chat migrated to a new id.
        """
        chat = str(chat_id)
        previous = self._directory.get(user_id)
        profile = self._directory.update(user_id, telegram_chat=chat)
        pipe = self._client.pipeline(transaction=True)
        if previous and previous.telegram_chat and previous.telegram_chat != chat:
            pipe.srem(self._keys.telegram_chat(previous.telegram_chat), user_id)
        pipe.sadd(self._keys.telegram_chat(chat), user_id)
        pipe.execute()
        return profile

    def unlink(self, user_id: str) -> None:
        """Forget the user's Telegram chat (directory, index and activity)."""
        previous = self._directory.get(user_id)
        if previous is None:
            return
        if previous.telegram_chat:
            self._directory.update(user_id, telegram_chat="")
            self._client.srem(self._keys.telegram_chat(previous.telegram_chat), user_id)
        self._client.delete(self._keys.telegram_active(user_id))

    def users_for_chat(self, chat_id: int | str) -> list[str]:
        """Users linked to this chat, sorted (several app accounts may share one Telegram chat).

        An index entry whose profile no longer names this chat (edited by hand) is dropped.
        """
        chat = str(chat_id)
        key = self._keys.telegram_chat(chat)
        users = sorted(
            m.decode() if isinstance(m, bytes) else m for m in self._client.smembers(key)
        )
        linked, stale = [], []
        for user_id in users:
            profile = self._directory.get(user_id)
            (linked if profile and profile.telegram_chat == chat else stale).append(user_id)
        if stale:
            self._client.srem(key, *stale)
        return linked

    # -- activity ---------------------------------------------------------------------------------

    def mark_active(self, user_id: str, ttl_s: int) -> None:
        """The user wrote to the bot now: active for `ttl_s` seconds (NOTIFY_TELEGRAM_ACTIVE_S)."""
        self._client.set(self._keys.telegram_active(user_id), repr(time.time()), ex=max(1, ttl_s))

    def mark_chat_active(self, chat_id: int | str, ttl_s: int) -> list[str]:
        """Mark every user linked to this chat active; returns them (empty: an unlinked chat)."""
        users = self.users_for_chat(chat_id)
        for user_id in users:
            self.mark_active(user_id, ttl_s)
        return users

    def is_active(self, user_id: str, within_s: float | None = None) -> bool:
        """Did the user write to the bot within `within_s` seconds (None: within the mark's TTL)?"""
        value = self._client.get(self._keys.telegram_active(user_id))
        if value is None:
            return False
        if within_s is None:
            return True
        try:
            return time.time() - float(value) <= within_s
        except ValueError:
            return True
