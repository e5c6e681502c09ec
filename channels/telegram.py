"""Telegram delivery: render an event as Bot API HTML, send it with python-telegram-bot, map PTB
errors to an Outcome.

Endpoint: `<NOTIFY_TELEGRAM_API_URL>/bot<token>/sendMessage` (PTB `Bot`; channels/telegram_client.py
holds the one Bot and event loop per process). Address: the user's chat id (directory field
`telegram_chat`), stored by the bot process (`telegram_bot/`) when the user opens their `/start`
link. Settings: `NOTIFY_TELEGRAM_TOKEN` (unset: not configured), `NOTIFY_TELEGRAM_API_URL`,
`NOTIFY_PROVIDER_TIMEOUT_S` (every phase of a call, and each call as a whole),
`NOTIFY_TELEGRAM_ACTIVE_S` (the window `is_active` checks).

Error map (`ERROR_MAP`, walked along PTB's tree TelegramError > NetworkError > BadRequest |
TimedOut, most specific first):

==========================================  ==============  =================================
RetryAfter (429, `retry_after` int/float/   RATE_LIMITED    retry after the given seconds
timedelta)
ChatMigrated (group became a supergroup)    TRANSIENT       `moved_to` = the new chat id; the
                                                            task stores it and retries there
Forbidden (403: blocked, kicked)            PERMANENT
InvalidToken (401/404: token rejected)      PERMANENT       never names the token
BadRequest (400: chat not found, ...)       PERMANENT
TimedOut, NetworkError (5xx, connection),   TRANSIENT
asyncio timeout of a whole call
other TelegramError (409 Conflict, ...)     TRANSIENT
any other exception                         TRANSIENT       "internal error: ..."
==========================================  ==============  =================================

Details never contain the bot token or a URL (the token is part of every Bot API URL).
"""

from __future__ import annotations

import html
import re
import warnings
from typing import TYPE_CHECKING, Any

from proto import ChannelType
from settings import Settings

from .base import AddressSpec, Channel
from .deps import Deps
from .errors import ExceptionMap, internal_error, match_exception, outcome_of, retry_after_s
from .notice import Notice
from .outcome import Kind, Outcome
from .render import summarize

if TYPE_CHECKING:
    from .telegram_client import TelegramClient

__all__ = ["CHANNEL", "ERROR_MAP", "MAX_TEXT", "Telegram", "build_client", "classify"]

#: The Bot API's limit on a message's text (counted here in UTF-16 units, as Telegram does).
MAX_TEXT = 4096
#: Longest title shown, in characters, before escaping.
MAX_TITLE = 256
#: Used when a RetryAfter carries no usable number.
DEFAULT_RETRY_AFTER_S = 5.0
#: Provider text kept in a detail.
MAX_DETAIL = 300

#: PTB's errors (module docstring), by class; the label starts the detail.
ERROR_MAP: ExceptionMap = {
    "telegram.RetryAfter": (Kind.RATE_LIMITED, "telegram rate limited"),
    "telegram.ChatMigrated": (Kind.TRANSIENT, "telegram chat migrated"),
    "telegram.Forbidden": (Kind.PERMANENT, "telegram forbidden"),
    "telegram.InvalidToken": (
        Kind.PERMANENT,
        "telegram rejected the bot token (NOTIFY_TELEGRAM_TOKEN)",
    ),
    "telegram.BadRequest": (Kind.PERMANENT, "telegram bad request"),
    "telegram.TimedOut": (Kind.TRANSIENT, "telegram timeout"),
    "telegram.NetworkError": (Kind.TRANSIENT, "telegram network error"),
    "telegram.TelegramError": (Kind.TRANSIENT, "telegram error"),
    "builtins.TimeoutError": (Kind.TRANSIENT, "telegram timeout"),
}

#: Anything shaped like a bot token ("123456:AA…"), masked out of provider messages.
_TOKEN_LIKE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{10,}")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


# -- render ------------------------------------------------------------------------------------


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units); never less than len()."""
    return len(text.encode("utf-16-le")) // 2


def _fit(raw: str, budget: int) -> str:
    """`raw` escaped, cut (with "…") so that the escaped text takes at most `budget` units."""
    escaped = html.escape(raw)
    if _units(escaped) <= budget:
        return escaped
    if budget < 1:
        return ""
    keep = len(raw)
    while keep > 0:
        # Cut at least one character, or as many as the text is over budget.
        keep -= max(1, _units(escaped) - budget)
        escaped = html.escape(raw[: max(keep, 0)]) + "…"
        if _units(escaped) <= budget:
            return escaped
    return "…"


class TelegramText(str):
    """A message's Bot API HTML, and the token of its "Got it" button (empty: no button)."""

    ack_token: str

    def __new__(cls, text: str, ack_token: str = "") -> TelegramText:
        made = super().__new__(cls, text)
        made.ack_token = ack_token
        return made


#: The callback data of a "Got it" button: this prefix and the token (64 bytes at most).
ACK_CALLBACK = "ack:"


def _render(notice: Notice) -> TelegramText:
    summary = summarize(notice)
    title = summary.title if len(summary.title) <= MAX_TITLE else summary.title[:MAX_TITLE] + "…"
    head = f"<b>{html.escape(title)}</b>"
    footer = f"<i>{html.escape(notice.priority)} · {_fit(notice.event_id, 200)}</i>"
    budget = MAX_TEXT - _units(head) - _units(footer) - 2  # the two newlines around the body
    body: list[str] = []
    for line in summary.lines:
        room = budget - sum(_units(part) + 1 for part in body) - 1
        if room < 2:
            break
        piece = _fit(line, room)
        body.append(piece)
        if piece.endswith("…") and piece != html.escape(line):
            break
    parts = [head, *body, "", footer] if body else [head, "", footer]
    return TelegramText("\n".join(parts), notice.ack_token)


# -- the error map -------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Provider text fit for a detail: no URLs, no token, one line, bounded."""
    text = _URL.sub("<url>", text).replace("\n", " ").strip()
    return _TOKEN_LIKE.sub("<token>", text)[:MAX_DETAIL]


def _retry_after(exc: BaseException) -> float:
    with warnings.catch_warnings():  # PTB warns that the int form is deprecated
        warnings.simplefilter("ignore")
        value: Any = getattr(exc, "retry_after", None)
    return retry_after_s(value, default=DEFAULT_RETRY_AFTER_S)


def classify(exc: BaseException) -> Outcome:
    """The whole PTB error map (module docstring), for any exception a send may raise."""
    entry = match_exception(exc, ERROR_MAP)
    if entry is None:
        return internal_error(exc, "telegram")
    kind, label = entry
    if kind == Kind.RATE_LIMITED:
        seconds = _retry_after(exc)
        return Outcome.rate_limited(f"{label}: retry after {seconds:g}s", seconds)
    new_chat = getattr(exc, "new_chat_id", None)
    if new_chat is not None:
        detail = f"{label} to {new_chat}; retrying there"
        return Outcome(Kind.TRANSIENT, detail, moved_to=str(new_chat))
    message = _clean(str(getattr(exc, "message", "") or ""))
    if label == "telegram error":  # the catch-all of PTB's tree: name the class too
        message = f"{type(exc).__name__}: {message}"
    if isinstance(exc, TimeoutError) and not message:
        message = "no answer within the provider timeout"
    return outcome_of(kind, f"{label}: {message}" if message else label)


# -- the channel ---------------------------------------------------------------------------------


def _chat_id(address: int | str) -> int | str:
    """A directory chat id as the Bot API wants it: an int, or an @channel username."""
    if isinstance(address, int):
        return address
    text = address.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def build_client(settings: Settings) -> TelegramClient | None:
    """The process's Telegram client, or None when `NOTIFY_TELEGRAM_TOKEN` is unset.

    No network I/O here: the Bot is initialized on first use.
    """
    if not settings.telegram_token:
        return None
    from .telegram_client import TelegramClient  # PTB loads only where Telegram is sent

    return TelegramClient(
        settings.telegram_token, settings.telegram_api_url, settings.provider_timeout_s
    )


def _shown(message_id: int, how: str) -> Outcome:
    receipt = f"telegram message_id={message_id}"
    return Outcome(Kind.DELIVERED, f"delivered ({receipt}, {how})", receipt=receipt)


class Telegram(Channel):
    """A chat with the platform's bot; active while the user wrote to it recently."""

    __slots__ = ()
    type = ChannelType.TELEGRAM
    has_session = True
    can_edit = True
    address_spec = AddressSpec("telegram_chat", "--telegram-chat", "Telegram chat id.")
    sandbox = "telegram"
    client_setting = "NOTIFY_TELEGRAM_TOKEN"

    def render(self, notice: Notice) -> TelegramText:
        """Bot API HTML (parse_mode HTML): bold title, detail lines, a small footer. Every
        piece of text from the event is escaped; the result is at most `MAX_TEXT` long."""
        return _render(notice)

    def send(self, rendered: str, address: str, deps: Deps) -> Outcome:
        """One sendMessage to the chat (with a "Got it" button when an ack is asked)."""
        client: TelegramClient = deps.client(self.type)
        token = getattr(rendered, "ack_token", "")
        try:
            message = client.send_message(
                _chat_id(address), str(rendered), ack_data=ACK_CALLBACK + token if token else ""
            )
        except Exception as exc:
            outcome = classify(exc)
            return Outcome(
                kind=outcome.kind,
                detail=client.redact(outcome.detail),
                retry_after_s=outcome.retry_after_s,
                moved_to=outcome.moved_to,
            )
        return Outcome.delivered(f"telegram message_id={message.message_id}")

    def edit(self, rendered: str, address: str, receipt: str, deps: Deps) -> Outcome | None:
        """editMessageText of the message `receipt` names; None (send a new one instead) when
        the receipt names none or Telegram cannot edit it (too old, deleted)."""
        found = re.fullmatch(r"telegram message_id=(\d+)", receipt)
        if found is None:
            return None
        client: TelegramClient = deps.client(self.type)
        message_id = int(found.group(1))
        try:
            client.edit_message(_chat_id(address), message_id, rendered)
        except Exception as exc:
            if "message is not modified" in str(exc):  # the same text: shown already
                return _shown(message_id, "unchanged")
            outcome = classify(exc)
            if outcome.kind == Kind.PERMANENT:
                return None  # cannot be edited: a new message instead
            return Outcome(outcome.kind, client.redact(outcome.detail), outcome.retry_after_s)
        return _shown(message_id, "edited in place")

    def build_client(self, settings: Settings) -> TelegramClient | None:
        return build_client(settings)

    def is_active(self, user_id: str, deps: Deps) -> bool:
        """Did the user write to the bot within NOTIFY_TELEGRAM_ACTIVE_S?"""
        return deps.store.telegram.is_active(user_id, deps.settings.telegram_active_s)


CHANNEL = Telegram()
