"""The Telegram bot against the sandbox Bot API: `/start <token>` links a chat, a spent token is
refused, messages mark a linked user active, the loop stops on its event and on SIGTERM."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from sandbox import SandboxServer, inject_telegram_message, reset, telegram_api_url
from settings import Settings
from store import Store
from telegram_bot import (
    INVALID_REPLY,
    LINKED_REPLY,
    LinkError,
    create_link,
    link_url,
)
from telegram_bot.bot import HELLO_REPLY, UNLINKED_REPLY
from tests.helpers import RunningBot, spawn, stop_process, wait_for_line, wait_until

TOKEN = "1122334:SECRET-bot-token-for-tests_xyz"
#: Generous: a long poll answers as soon as an update is queued; this only bounds a failure.
WAIT_S = 20.0


def uid() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


def new_chat() -> int:
    return int(uuid.uuid4().int % 10**9) + 10**9


def replies(sandbox: SandboxServer, chat_id: int) -> list[str]:
    return [
        r["json"]["text"]
        for r in sandbox.state.requests("telegram")
        if r["path"].endswith("/sendMessage") and str(r["json"].get("chat_id")) == str(chat_id)
    ]


def wait_for_reply(sandbox: SandboxServer, chat_id: int, count: int = 1) -> list[str]:
    return wait_until(
        lambda: (got := replies(sandbox, chat_id)) and len(got) >= count and got,
        f"{count} repl(ies) to chat {chat_id}",
        WAIT_S,
    )


@pytest.fixture(scope="module")
def bot_sandbox() -> Iterator[SandboxServer]:
    """A sandbox of this module's own: its update queue, and the long polls a stopped bot
    leaves running in it, never meet other tests."""
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture
def inbox(bot_sandbox: SandboxServer) -> SandboxServer:
    """The bot sandbox with no records, no queued updates, every switch at ok."""
    reset(bot_sandbox.url)
    return bot_sandbox


@pytest.fixture
def bot_settings(settings: Settings, bot_sandbox: SandboxServer) -> Settings:
    return settings.model_copy(
        update={"telegram_token": TOKEN, "telegram_api_url": telegram_api_url(bot_sandbox.url)}
    )


@pytest.fixture
def bot(inbox: SandboxServer, bot_settings: Settings, store: Store) -> Iterator[RunningBot]:
    """run_bot in a thread, polling the sandbox; stopped (and checked) afterwards."""
    running = RunningBot(bot_settings, store)
    running.thread.start()  # updates injected before its first poll wait in the sandbox's queue
    yield running
    running.halt()
    assert not running.thread.is_alive()
    assert running.errors == []


def test_start_with_a_token_links_the_chat_once(
    bot: RunningBot, inbox: SandboxServer, store: Store, bot_settings: Settings
) -> None:
    user, chat_id = uid(), new_chat()
    token = store.telegram.create_link_token(user)

    inject_telegram_message(inbox.url, chat_id, f"/start {token}", username="linker")

    assert wait_for_reply(inbox, chat_id) == [LINKED_REPLY]
    profile = store.directory.get(user)
    assert profile is not None and profile.telegram_chat == str(chat_id)
    assert store.telegram.users_for_chat(chat_id) == [user]
    assert store.telegram.is_active(user, bot_settings.telegram_active_s)

    inject_telegram_message(inbox.url, chat_id, f"/start {token}")

    assert wait_for_reply(inbox, chat_id, 2) == [LINKED_REPLY, INVALID_REPLY]
    assert store.directory.get(user).telegram_chat == str(chat_id)


def test_unknown_token_from_another_chat_is_refused_and_links_nothing(
    bot: RunningBot, inbox: SandboxServer, store: Store
) -> None:
    chat_id = new_chat()

    inject_telegram_message(inbox.url, chat_id, "/start never-issued-token")

    assert wait_for_reply(inbox, chat_id) == [INVALID_REPLY]
    assert store.telegram.users_for_chat(chat_id) == []


def test_plain_message_from_a_linked_chat_marks_the_user_active(
    bot: RunningBot, inbox: SandboxServer, store: Store, bot_settings: Settings
) -> None:
    user, chat_id, stranger = uid(), new_chat(), new_chat()
    store.telegram.link(user, chat_id)
    assert store.telegram.is_active(user) is False

    inject_telegram_message(inbox.url, chat_id, "hello bot")
    wait_until(lambda: store.telegram.is_active(user), "the user to be marked active", WAIT_S)
    # Updates are handled in order: once the stranger's hint is out, the hello was handled too.
    inject_telegram_message(inbox.url, stranger, "who are you?")

    assert wait_for_reply(inbox, stranger) == [UNLINKED_REPLY]
    assert replies(inbox, chat_id) == []  # a linked chat's chatter is not answered
    assert store.telegram.is_active(user)
    ttl = store.client.ttl(store.keys.telegram_active(user))
    assert 0 < ttl <= bot_settings.telegram_active_s  # the configured active window


def test_bare_start_greets(bot: RunningBot, inbox: SandboxServer) -> None:
    chat_id = new_chat()
    inject_telegram_message(inbox.url, chat_id, "/start")
    assert wait_for_reply(inbox, chat_id) == [HELLO_REPLY]


def test_the_bot_beats_while_telegram_answers_and_is_gone_after_a_stop(
    inbox: SandboxServer, bot_settings: Settings, store: Store
) -> None:
    import os

    mine = f":{os.getpid()}"  # the bot runs in this process: its name ends with our pid

    def beating() -> bool:
        return any(name.endswith(mine) for name in store.liveness.seen().get("telegram-bot", {}))

    running = RunningBot(bot_settings, store)
    running.thread.start()
    chat_id = new_chat()
    inject_telegram_message(inbox.url, chat_id, "/start")  # a poll answers at once
    assert wait_for_reply(inbox, chat_id) == [HELLO_REPLY]
    wait_until(beating, "the bot's heartbeat", WAIT_S)
    running.halt()
    assert running.errors == []
    assert not beating(), "a clean stop removes the heartbeat (gone, not dead)"


def test_stop_event_stops_the_loop(
    inbox: SandboxServer, bot_settings: Settings, store: Store
) -> None:
    running = RunningBot(bot_settings, store)
    running.thread.start()
    # A request is recorded once answered: getMe answers at once, the long poll that follows
    # it only when the sandbox's wait ends, so the stop below finds the poll in flight.
    wait_until(
        lambda: any(r["path"].endswith("/getMe") for r in inbox.state.requests("telegram")),
        "the bot's getMe",
        WAIT_S,
    )
    time.sleep(0.3)

    running.halt()  # the poll is cancelled, not waited out

    assert not running.thread.is_alive()
    assert running.errors == []


def test_the_loop_survives_a_failing_api_and_recovers(
    inbox: SandboxServer, bot_settings: Settings, store: Store
) -> None:
    inbox.state.set_switch("telegram", "server_error", times=1)  # the first getMe fails
    running = RunningBot(bot_settings, store)
    running.thread.start()
    try:
        chat_id = new_chat()
        inject_telegram_message(inbox.url, chat_id, "/start")
        assert wait_for_reply(inbox, chat_id) == [HELLO_REPLY]
    finally:
        running.halt()
    assert running.errors == []
    get_me = [r["status"] for r in inbox.state.requests("telegram") if r["path"].endswith("/getMe")]
    assert get_me[:2] == [500, 200]


# -- links ------------------------------------------------------------------------------------------


def test_link_url() -> None:
    assert link_url("@my_bot", "abc_DEF-1") == "https://t.me/my_bot?start=abc_DEF-1"
    with pytest.raises(ValueError):
        link_url("my_bot", "not ok!")


def test_create_link_names_the_bot_and_carries_a_one_time_token(
    inbox: SandboxServer, bot_settings: Settings, store: Store
) -> None:
    user = uid()

    url = create_link(bot_settings, store, user)

    prefix = "https://t.me/notify_sandbox_bot?start="
    assert url.startswith(prefix)
    token = url.removeprefix(prefix)
    assert store.telegram.consume_link_token(token) == user
    assert store.telegram.consume_link_token(token) is None


def test_create_link_without_a_token_or_with_a_bad_user(
    settings: Settings, bot_settings: Settings, store: Store
) -> None:
    with pytest.raises(LinkError, match="NOTIFY_TELEGRAM_TOKEN"):
        create_link(settings.model_copy(update={"telegram_token": ""}), store, uid())
    with pytest.raises(ValueError, match="user id"):
        create_link(bot_settings, store, "bad user id")


def test_create_link_when_the_api_fails_names_no_token(
    inbox: SandboxServer, bot_settings: Settings, store: Store
) -> None:
    inbox.state.set_switch("telegram", "permanent")
    with pytest.raises(LinkError) as caught:
        create_link(bot_settings, store, uid())
    assert TOKEN not in str(caught.value)
    assert "blocked" in str(caught.value)


# -- the process -------------------------------------------------------------------------------------


def test_process_links_and_stops_on_sigterm(
    inbox: SandboxServer,
    stack_env: dict[str, str],
    store: Store,
    tmp_path,
) -> None:
    env = {
        **stack_env,
        "NOTIFY_TELEGRAM_TOKEN": TOKEN,
        "NOTIFY_TELEGRAM_API_URL": telegram_api_url(inbox.url),
    }
    log_path = tmp_path / "bot.log"
    process = spawn([sys.executable, "-m", "telegram_bot"], env, log_path)
    try:
        wait_for_line(log_path, "telegram_bot polling bot=@notify_sandbox_bot", process)
        user, chat_id = uid(), new_chat()
        token = store.telegram.create_link_token(user)
        inject_telegram_message(inbox.url, chat_id, f"/start {token}")
        assert wait_for_reply(inbox, chat_id) == [LINKED_REPLY]
    finally:
        code = stop_process(process)

    log = log_path.read_text()
    assert code == 0, log
    assert "telegram_bot stopping signal=SIGTERM" in log
    assert "telegram_bot stopped" in log
    assert f"linked user_id={user} chat_id={chat_id}" in log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert token not in log
