"""The python-telegram-bot side of the Telegram channel: one `Bot` on one event loop per process.

PTB is async and Celery's prefork pool is not: `channels.telegram` builds one `TelegramClient`
per worker process (in `worker_process_init`, never before the fork), holding one event loop
and one `Bot` (`base_url` = `NOTIFY_TELEGRAM_API_URL` + `/bot`; PTB appends the token),
initialized (getMe) on first use; each call is one `run_until_complete`. This is the only
module that imports PTB for sending, so processes that never send (the ingress) never load it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import warnings
from collections.abc import Coroutine
from typing import Any, TypeVar

import telegram
from telegram.constants import ParseMode
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

__all__ = ["TelegramClient"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# PTB warns on every RetryAfter that `retry_after` will become a timedelta; classify reads both.
warnings.filterwarnings("ignore", message=r"(?s).*`retry_after`", category=PTBDeprecationWarning)


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

    def send_message(self, chat_id: int | str, text: str, ack_data: str = "") -> telegram.Message:
        """One sendMessage with parse_mode HTML and no link preview, and a "Got it" button
        carrying `ack_data` when given; raises PTB errors."""
        self._check_open()
        markup = (
            telegram.InlineKeyboardMarkup(
                [[telegram.InlineKeyboardButton("Got it", callback_data=ack_data)]]
            )
            if ack_data
            else None
        )
        return self.run(
            self._call(
                self.bot.send_message(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
                    reply_markup=markup,
                )
            )
        )

    def edit_message(self, chat_id: int | str, message_id: int, text: str) -> None:
        """One editMessageText (HTML) of a message the bot sent; raises PTB errors."""
        self._check_open()
        self.run(
            self._call(
                self.bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=message_id,
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
