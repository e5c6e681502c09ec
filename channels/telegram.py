"""Telegram delivery: render an event as Bot API HTML, send it with python-telegram-bot, map PTB
errors to an Outcome.

Endpoint: `<NOTIFY_TELEGRAM_API_URL>/bot<token>/sendMessage` (PTB `Bot`, `base_url` = API URL +
`/bot`; PTB appends the token). Address: the user's chat id (directory field `telegram_chat`),
stored by the bot process (`telegram_bot/`) when the user opens their `/start` link.
Settings: `NOTIFY_TELEGRAM_TOKEN` (unset: the channel answers PERMANENT "not configured"),
`NOTIFY_TELEGRAM_API_URL`, `NOTIFY_PROVIDER_TIMEOUT_S` (every phase of a call, and each call as a
whole), `NOTIFY_TELEGRAM_ACTIVE_S` (the window `is_active` checks).

PTB is async and Celery's prefork pool is not: `build_client` makes one `TelegramClient` per
worker process (call it in `worker_process_init`, never before the fork), holding one event loop
and one `Bot`, initialized (getMe) on first use; each send is one `run_until_complete`.

Error map (`classify`; PTB's tree: TelegramError > NetworkError > BadRequest | TimedOut):

==========================================  ==============  =================================
RetryAfter (429, `retry_after` int/float/   RATE_LIMITED    retry after the given seconds
timedelta)
ChatMigrated (group became a supergroup)    PERMANENT       "chat migrated to <id>";
                                                            `migrated_chat_id` reads the id
Forbidden (403: blocked, kicked)            PERMANENT
InvalidToken (401/404: token rejected)      PERMANENT       never names the token
BadRequest (400: chat not found, ...)       PERMANENT       caught before NetworkError
TimedOut, NetworkError (5xx, connection),   TRANSIENT
asyncio timeout of a whole call
other TelegramError (409 Conflict, ...)     TRANSIENT
any other exception                         TRANSIENT       "internal error: ..."
==========================================  ==============  =================================

Details never contain the bot token or a URL (the token is part of every Bot API URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import logging
import re
import threading
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

import telegram
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from settings import Settings
from store import Store

from .deps import Deps
from .notice import Notice
from .outcome import Kind, Outcome
from .render import summarize

__all__ = [
    "ADDRESS_FIELD",
    "MAX_TEXT",
    "TelegramClient",
    "build_client",
    "classify",
    "is_active",
    "migrated_chat_id",
    "render",
    "send",
]

log = logging.getLogger(__name__)

#: Anything shaped like a bot token ("123456:AA…"), masked out of provider messages.
_TOKEN_LIKE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{10,}")

T = TypeVar("T")

#: The directory field holding the user's chat id.
ADDRESS_FIELD = "telegram_chat"
#: The Bot API's limit on a message's text (counted here in UTF-16 units, as Telegram does).
MAX_TEXT = 4096
#: Longest title shown, in characters, before escaping.
MAX_TITLE = 256
#: Used when a RetryAfter carries no usable number.
DEFAULT_RETRY_AFTER_S = 5.0
#: Provider text kept in a detail.
MAX_DETAIL = 300

_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_MIGRATED = re.compile(r"chat migrated to (-?\d+)")


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


def render(notice: Notice) -> str:
    """The message in Bot API HTML (parse_mode HTML): bold title, detail lines, a small footer.

    Every piece of text from the event is escaped; the result is at most `MAX_TEXT` long.
    Pure: no I/O, never raises on odd payloads (summarize falls back to a generic form).
    """
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
    return "\n".join(parts)


# -- the client --------------------------------------------------------------------------------


class TelegramClient:
    """One PTB `Bot` and the one event loop it runs on, for one process (sync callers).

    Parameters: `token`, the bot token (kept out of every detail and log line); `api_url`, the
    Bot API root (`NOTIFY_TELEGRAM_API_URL`); `timeout_s`, the limit of every phase of a call and
    of each call as a whole. Calls from several threads are serialised (one loop, one at a time).
    """

    def __init__(self, token: str, api_url: str, timeout_s: float) -> None:
        if not token:
            raise ValueError("a Telegram bot token is required")
        self._token = token
        self.timeout_s = float(timeout_s)
        request = HTTPXRequest(
            connection_pool_size=4,
            connect_timeout=min(self.timeout_s, 5.0),
            read_timeout=self.timeout_s,
            write_timeout=self.timeout_s,
            pool_timeout=min(self.timeout_s, 1.0),
        )
        self.bot = telegram.Bot(token, base_url=api_url.rstrip("/") + "/bot", request=request)
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one coroutine to completion on this client's loop."""
        with self._lock:
            if self._closed:
                coro.close()
                raise RuntimeError("TelegramClient is closed")
            task = self._loop.create_task(coro)
            try:
                return self._loop.run_until_complete(task)
            except BaseException:
                # E.g. a Celery soft time limit raised inside the loop: do not leave the call
                # pending on the loop for the next task to trip over.
                if not task.done():
                    task.cancel()
                    # The first exception is the one to raise.
                    with contextlib.suppress(BaseException):
                        self._loop.run_until_complete(task)
                raise

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Initialize the Bot on first use (getMe), then one call; each bounded by timeout_s."""
        try:
            await asyncio.wait_for(self.bot.initialize(), self.timeout_s)
        except BaseException:
            coro.close()
            raise
        return await asyncio.wait_for(coro, self.timeout_s)

    def initialize(self) -> None:
        """Initialize now (getMe) rather than on the first send; raises PTB errors."""
        self._check_open()
        self.run(asyncio.wait_for(self.bot.initialize(), self.timeout_s))

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("TelegramClient is closed")

    def send_message(self, chat_id: int | str, text: str) -> telegram.Message:
        """One sendMessage with parse_mode HTML and no link preview; raises PTB errors."""
        self._check_open()
        return self.run(
            self._call(
                self.bot.send_message(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
                )
            )
        )

    def get_me(self) -> telegram.User:
        """The bot's own user, as getMe answered when the Bot was initialized."""
        self._check_open()

        async def me() -> telegram.User:
            await asyncio.wait_for(self.bot.initialize(), self.timeout_s)
            return self.bot.bot

        return self.run(me())

    def redact(self, text: str) -> str:
        """`text` without the bot token (nor its secret half)."""
        text = text.replace(self._token, "<token>")
        secret = self._token.partition(":")[2]
        if len(secret) >= 8:
            text = text.replace(secret, "<token>")
        return text

    def close(self) -> None:
        """Shut the Bot's HTTP pool and the loop; idempotent."""
        if self._closed:
            return
        try:
            self.run(self.bot.shutdown())
        except Exception:  # closing is best effort
            log.debug("channel=telegram shutdown failed", exc_info=True)
        finally:
            with self._lock:
                self._closed = True
                self._loop.close()

    def __enter__(self) -> TelegramClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def build_client(settings: Settings) -> TelegramClient | None:
    """The process's Telegram client, or None when `NOTIFY_TELEGRAM_TOKEN` is unset.

    No network I/O here: the Bot is initialized on first use.
    """
    if not settings.telegram_token:
        return None
    # PTB warns on every RetryAfter that `retry_after` will become a timedelta; classify reads both.
    warnings.filterwarnings(
        "ignore", message=r"(?s).*`retry_after`", category=PTBDeprecationWarning
    )
    # httpx logs request URLs at INFO, and every Bot API URL carries the token.
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    return TelegramClient(
        settings.telegram_token, settings.telegram_api_url, settings.provider_timeout_s
    )


# -- send and classify ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Provider text fit for a detail: no URLs, one line, bounded."""
    text = _URL.sub("<url>", text).replace("\n", " ").strip()
    return text[:MAX_DETAIL]


def _retry_after_s(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the int form is deprecated
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    try:
        seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S
    return max(seconds, 0.0)


def classify(exc: BaseException) -> Outcome:
    """The whole PTB error map (module docstring), for any exception a send may raise."""
    # Order matters: ChatMigrated and RetryAfter are plain TelegramErrors; BadRequest and
    # TimedOut subclass NetworkError.
    if isinstance(exc, RetryAfter):
        seconds = _retry_after_s(exc)
        return Outcome.rate_limited(f"telegram rate limited: retry after {seconds:g}s", seconds)
    if isinstance(exc, ChatMigrated):
        return Outcome.permanent(f"telegram chat migrated to {exc.new_chat_id}")
    if isinstance(exc, Forbidden):
        return Outcome.permanent(f"telegram forbidden: {_clean(exc.message)}")
    if isinstance(exc, InvalidToken):
        # PTB's own message may quote the token: never pass it on.
        reason = _TOKEN_LIKE.sub("<token>", _clean(exc.message))
        return Outcome.permanent(
            f"telegram rejected the bot token (NOTIFY_TELEGRAM_TOKEN): {reason}"
        )
    if isinstance(exc, BadRequest):
        return Outcome.permanent(f"telegram bad request: {_clean(exc.message)}")
    if isinstance(exc, TimedOut):
        return Outcome.transient(f"telegram timeout: {_clean(exc.message)}")
    if isinstance(exc, NetworkError):
        return Outcome.transient(f"telegram network error: {_clean(exc.message)}")
    if isinstance(exc, TelegramError):
        return Outcome.transient(f"telegram error: {type(exc).__name__}: {_clean(exc.message)}")
    if isinstance(exc, TimeoutError):  # asyncio.wait_for around the whole call
        return Outcome.transient("telegram timeout: no answer within the provider timeout")
    return Outcome.transient(f"internal error: {type(exc).__name__}: {_clean(str(exc))}")


def migrated_chat_id(value: Outcome | BaseException) -> str | None:
    """The new chat id of a chat that migrated (from the ChatMigrated error or its Outcome).

    The caller stores it: `deps.store.telegram.link(user_id, new_id)`.
    """
    if isinstance(value, ChatMigrated):
        return str(value.new_chat_id)
    if isinstance(value, Outcome) and value.kind == Kind.PERMANENT:
        match = _MIGRATED.search(value.detail)
        return match.group(1) if match else None
    return None


def _chat_id(address: int | str) -> int | str:
    """A directory chat id as the Bot API wants it: an int, or an @channel username."""
    if isinstance(address, int):
        return address
    text = address.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def send(text: str, chat_id: int | str, deps: Deps) -> Outcome:
    """One sendMessage to `chat_id`; never raises."""
    client: TelegramClient | None = deps.telegram
    if client is None:
        return Outcome.permanent("telegram not configured: NOTIFY_TELEGRAM_TOKEN unset")
    try:
        message = client.send_message(_chat_id(chat_id), text)
    except Exception as exc:
        outcome = classify(exc)
        return Outcome(
            kind=outcome.kind,
            detail=client.redact(outcome.detail),
            retry_after_s=outcome.retry_after_s,
        )
    return Outcome.delivered(f"telegram message_id={message.message_id}")


def is_active(store: Store, user_id: str, within_s: float) -> bool:
    """Did the user write to the bot within `within_s` seconds (NOTIFY_TELEGRAM_ACTIVE_S)?"""
    return store.telegram.is_active(user_id, within_s)
