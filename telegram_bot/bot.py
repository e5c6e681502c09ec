"""The bot's long-polling loop: read updates with getUpdates, link accounts, mark chats active.

Endpoint: `<NOTIFY_TELEGRAM_API_URL>/bot<token>/getUpdates` and `sendMessage` (PTB `Bot` through
`channels.telegram_client.TelegramClient`). Settings: `NOTIFY_TELEGRAM_TOKEN`, `NOTIFY_TELEGRAM_API_URL`,
`NOTIFY_TELEGRAM_ACTIVE_S`, `NOTIFY_PROVIDER_TIMEOUT_S`, `NOTIFY_REDIS_URL`, `NOTIFY_KEY_PREFIX`.

Messages: `/start <token>` consumes the one-time token and stores the chat on the user
(`LINKED_REPLY`); an unknown, used or expired token gets `INVALID_REPLY`. Any message from a
linked chat marks its users active for `NOTIFY_TELEGRAM_ACTIVE_S`.

Button presses (callback queries): "Got it" on a notification that asks for the person's
acknowledgement (`ack:<token>`, channels/telegram.py) records it (store/human_acks.py), which
ends that event's escalation; the press is answered, and the message is edited to say when it
was acknowledged (its button removed). A token of another user's chat, or used, is refused. Errors while polling: rate
limit -> wait `retry_after`; network, 5xx, Conflict -> back off (1 s doubling to 30 s); a
rejected token -> `BotError` (the loop cannot work). Log lines are `key=value`, never with the
bot token, a link token or message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import telegram
from telegram.constants import ParseMode
from telegram.error import InvalidToken, RetryAfter

from channels.telegram import ACK_CALLBACK, build_client, classify
from channels.telegram_client import TelegramClient
from settings import Settings
from store import Store, this_process

__all__ = [
    "HELLO_REPLY",
    "INVALID_REPLY",
    "LINKED_REPLY",
    "POLL_TIMEOUT_S",
    "UNLINKED_REPLY",
    "BotError",
    "Press",
    "handle_message",
    "handle_press",
    "run_bot",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Long-poll wait of one getUpdates (the Bot API allows up to 50 s). Each answered poll is the
#: bot's heartbeat, so it stays under store.STALE_AFTER_S (15 s): a healthy idle bot is "live".
POLL_TIMEOUT_S = 10
#: How often the loop looks at the stop event while it waits.
STOP_CHECK_S = 0.1
#: First pause after a failed poll; doubles up to MAX_BACKOFF_S.
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0

LINKED_REPLY = "Linked: you will get notifications here."
INVALID_REPLY = (
    "This link is invalid or has expired (each link works once). Please ask for a new one."
)
HELLO_REPLY = "Hi! To get notifications here, open the link you were given for your account."
UNLINKED_REPLY = "This chat is not linked to an account yet. Open your link to connect it."
EXPIRED_BUTTON = "This button has expired or was used already."
NOT_YOURS = "This notification is not for this chat."
UNKNOWN_BUTTON = "Unknown button."

_START = re.compile(r"/start(?:@\w+)?(?:\s+(?P<arg>.*?))?\s*", re.DOTALL)


class BotError(Exception):
    """The bot cannot run (no token, or the token was rejected); never names the token."""


def handle_message(store: Store, settings: Settings, chat_id: int, text: str) -> str | None:
    """Act on one incoming message; returns the reply to send, or None for no reply."""
    match = _START.fullmatch(text.strip())
    if match:
        token = (match.group("arg") or "").strip()
        if not token:
            linked = store.telegram.mark_chat_active(chat_id, settings.telegram_active_s)
            return LINKED_REPLY if linked else HELLO_REPLY
        user_id = store.telegram.consume_link_token(token)
        if user_id is None:
            log.info("telegram_bot link_rejected chat_id=%s", chat_id)
            return INVALID_REPLY
        store.telegram.link(user_id, chat_id)
        store.telegram.mark_active(user_id, settings.telegram_active_s)
        log.info("telegram_bot linked user_id=%s chat_id=%s", user_id, chat_id)
        return LINKED_REPLY
    users = store.telegram.mark_chat_active(chat_id, settings.telegram_active_s)
    if not users:
        return UNLINKED_REPLY
    log.debug("telegram_bot active chat_id=%s users=%d", chat_id, len(users))
    return None


@dataclass(frozen=True, slots=True)
class Press:
    """What a button press comes to: the answer shown to the person, and when the event was
    acknowledged (None: nothing to show on the message)."""

    answer: str
    acked_at: float | None = None


def handle_press(store: Store, chat_id: int, data: str) -> Press:
    """Act on one "Got it" press in `chat_id` (callback data `data`)."""
    if not data.startswith(ACK_CALLBACK):
        return Press(UNKNOWN_BUTTON)
    token = data[len(ACK_CALLBACK) :]
    grant = store.human_acks.peek(token)
    if grant is None:
        earlier = None
    elif not _chat_of(store, grant.user_id, chat_id):
        log.warning("telegram_bot ack_refused chat_id=%s reason=not this chat's user", chat_id)
        return Press(NOT_YOURS)
    else:
        fresh = store.human_acks.redeem(token)
        if fresh is not None:
            store.human_acks.record(fresh.user_id, fresh.event_id, fresh.channel)
            log.info(
                "telegram_bot acknowledged user_id=%s event_id=%s", fresh.user_id, fresh.event_id
            )
        earlier = store.human_acks.acked(grant.user_id, grant.event_id)
    if earlier is None:
        return Press(EXPIRED_BUTTON)
    return Press(f"Acknowledged (via {earlier.channel}). Thank you.", earlier.at)


def _chat_of(store: Store, user_id: str, chat_id: int) -> bool:
    """Is `chat_id` the user's Telegram address (however it was set)?"""
    profile = store.directory.get(user_id)
    return profile is not None and profile.telegram_chat == str(chat_id)


async def _until_stopped(coro: Coroutine[Any, Any, T], stop: threading.Event) -> tuple[bool, T]:
    """Run `coro` unless `stop` is set first (then cancel it): (stopped, result)."""
    task = asyncio.ensure_future(coro)
    while not task.done():
        if stop.is_set():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            return True, None  # type: ignore[return-value]
        await asyncio.wait({task}, timeout=STOP_CHECK_S)
    return False, task.result()


async def _pause(seconds: float, stop: threading.Event) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    await _until_stopped(asyncio.sleep(seconds), stop)


async def _reply(client: TelegramClient, chat_id: int, text: str) -> None:
    try:
        await asyncio.wait_for(
            client.bot.send_message(chat_id=chat_id, text=text), client.timeout_s
        )
    except Exception as exc:  # the user may have blocked the bot meanwhile: log, go on
        detail = client.redact(classify(exc).detail)
        log.warning("telegram_bot reply_failed chat_id=%s detail=%s", chat_id, detail)


async def _answer_press(
    client: TelegramClient, store: Store, query: telegram.CallbackQuery
) -> None:
    message = query.message
    chat_id = message.chat.id if message is not None else query.from_user.id
    press = handle_press(store, chat_id, query.data or "")
    try:
        await asyncio.wait_for(query.answer(text=press.answer), client.timeout_s)
        if press.acked_at is not None and isinstance(message, telegram.Message):
            at = time.strftime("%H:%M UTC", time.gmtime(press.acked_at))
            text = f"{message.text_html}\n\n✓ Acknowledged at {at}"
            # No reply_markup: the edit removes the button.
            await asyncio.wait_for(
                message.edit_text(text, parse_mode=ParseMode.HTML), client.timeout_s
            )
    except Exception as exc:  # the ack is recorded already; what the chat shows can lag
        detail = client.redact(classify(exc).detail)
        log.warning("telegram_bot press_answer_failed chat_id=%s detail=%s", chat_id, detail)


async def _handle(
    client: TelegramClient, store: Store, settings: Settings, update: telegram.Update
) -> None:
    if update.callback_query is not None:
        await _answer_press(client, store, update.callback_query)
        return
    message = update.message
    if message is None or message.chat is None:
        return
    chat_id = message.chat.id
    # Redis calls are short and this loop does nothing else meanwhile: run them inline.
    reply = handle_message(store, settings, chat_id, message.text or "")
    if reply:
        await _reply(client, chat_id, reply)


async def _poll(
    client: TelegramClient, store: Store, settings: Settings, stop: threading.Event
) -> None:
    bot = client.bot
    offset: int | None = None
    confirmed: int | None = None
    backoff = FIRST_BACKOFF_S
    ready = False
    while not stop.is_set():
        try:
            if not ready:
                stopped, _ = await _until_stopped(
                    asyncio.wait_for(bot.initialize(), client.timeout_s), stop
                )
                if stopped:
                    break
                ready = True
                log.info("telegram_bot polling bot=@%s", bot.username)
            stopped, updates = await _until_stopped(
                bot.get_updates(
                    offset=offset,
                    timeout=POLL_TIMEOUT_S,
                    allowed_updates=["message", "callback_query"],
                ),
                stop,
            )
        except InvalidToken:
            raise BotError("telegram rejected the bot token (NOTIFY_TELEGRAM_TOKEN)") from None
        except RetryAfter as exc:
            outcome = classify(exc)
            log.warning("telegram_bot poll_rate_limited retry_after_s=%s", outcome.retry_after_s)
            await _pause(outcome.retry_after_s or FIRST_BACKOFF_S, stop)
            continue
        except Exception as exc:
            detail = client.redact(classify(exc).detail)
            log.warning("telegram_bot poll_failed backoff_s=%s detail=%s", backoff, detail)
            await _pause(backoff, stop)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            continue
        if stopped:
            break
        backoff = FIRST_BACKOFF_S
        _beat(store)  # a poll answered: Telegram is reachable and the bot is working
        confirmed = offset
        for update in updates:
            offset = update.update_id + 1
            try:
                await _handle(client, store, settings, update)
            except Exception:
                log.exception("telegram_bot update_failed update_id=%s", update.update_id)
    if ready and offset is not None and offset != confirmed:
        # Confirm what was handled, so a restart does not see (and answer) it again.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bot.get_updates(offset=offset, timeout=0), client.timeout_s)


def _beat(store: Store) -> None:
    """The bot's heartbeat (`notify alive telegram-bot`, `notify stats`), once per answered
    poll: at least every POLL_TIMEOUT_S while Telegram answers."""
    try:
        store.liveness.beat("telegram-bot", this_process())
    except Exception as exc:  # Redis away: the poll goes on, the beat comes back with it
        log.warning("telegram_bot liveness beat failed: %s", type(exc).__name__)


def run_bot(settings: Settings, stop_event: threading.Event, store: Store | None = None) -> None:
    """Long-poll until `stop_event` is set; raises BotError when the bot cannot work at all.

    Usable from a thread (tests) as well as from `main()`, which sets the event on SIGTERM/SIGINT.
    """
    client = build_client(settings)
    if client is None:
        raise BotError("telegram not configured: NOTIFY_TELEGRAM_TOKEN unset")
    store = store or Store(settings.redis_url, settings.key_prefix)
    log.info("telegram_bot starting")
    try:
        client.run(_poll(client, store, settings, stop_event))
    finally:
        client.close()
        with contextlib.suppress(Exception):  # a clean stop: gone, not dead
            store.liveness.gone("telegram-bot", this_process())
        log.info("telegram_bot stopped")
