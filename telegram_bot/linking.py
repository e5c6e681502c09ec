"""Account linking: the `https://t.me/<bot>?start=<one-time token>` deep link a user opens.

Settings: `NOTIFY_TELEGRAM_TOKEN`, `NOTIFY_TELEGRAM_API_URL` (getMe gives the bot's username).
Tokens live in Redis for `store.LINK_TOKEN_TTL_S` and work once (store/telegram.py).
"""

from __future__ import annotations

from channels.telegram import build_client, classify
from settings import Settings
from store import Store, validate_user_id
from store.telegram import LINK_TOKEN_PATTERN

__all__ = ["LinkError", "create_link", "link_url"]


class LinkError(Exception):
    """A link could not be made (Telegram not configured or not answering); never names the token."""


def link_url(bot_username: str, token: str) -> str:
    """The deep link that sends `/start <token>` to the bot."""
    name = bot_username.lstrip("@")
    if not name:
        raise ValueError("bot username is empty")
    if not LINK_TOKEN_PATTERN.fullmatch(token):
        raise ValueError("a link token is 1-64 characters of [A-Za-z0-9_-]")
    return f"https://t.me/{name}?start={token}"


def create_link(settings: Settings, store: Store, user_id: str) -> str:
    """A fresh one-time link for `user_id`; raises ValueError (bad id) or LinkError."""
    problem = validate_user_id(user_id)
    if problem:
        raise ValueError(problem)
    client = build_client(settings)
    if client is None:
        raise LinkError("telegram not configured: NOTIFY_TELEGRAM_TOKEN unset")
    try:
        me = client.get_me()
    except Exception as exc:
        # `from None`: PTB's own message for a rejected token quotes the token.
        raise LinkError(
            f"cannot ask the bot's name: {client.redact(classify(exc).detail)}"
        ) from None
    finally:
        client.close()
    if not me.username:
        raise LinkError("the bot has no username (getMe)")
    return link_url(me.username, store.telegram.create_link_token(user_id))
