"""A person's acknowledgement ends escalation, through the real processes: a liquidation warning
accepted by Telegram is not finished; it waits for "Got it" (pressed through getUpdates and
handled by the bot, which edits the message), escalates to email when nobody presses, and the
email's one-click link (followed over HTTP, served by the session server) acknowledges it. The
container gets DELIVERED via the channel where the person acknowledged; without anybody, the
deadline ends it with ACK_ERROR."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from client import NotifyClient, make_event
from proto import AckStatus, ChannelType
from sessions import SessionServer
from settings import Settings
from store import Store
from tests.faults.stack import Stack
from tests.helpers import RunningBot, free_port, wait_until
from tests.test_cli import notify

pytestmark = pytest.mark.broker

LIQUIDATION = {"symbol": "ETH/USDT", "side": "long", "size": "2", "liquidation_price": "2500"}
ACK_LINK = re.compile(r"http://127\.0\.0\.1:\d+/ack/[A-Za-z0-9_.\-]+")


@dataclass
class AckStack:
    stack: Stack
    store: Store
    sessions: SessionServer

    def liquidation(self, user: str, channels: list[str]):
        return make_event(user, "POSITION_LIQUIDATED", "CRITICAL", channels, LIQUIDATION)


@pytest.fixture
def ack_stack(request, own_stack, clean_sandbox, settings: Settings) -> Iterator[AckStack]:
    """A stack of the test's own (`ack_wait_s` and `deadline_s` from the test's marker), with
    its session server (the links' host) and its Telegram bot."""
    options = request.node.get_closest_marker("ack_stack")
    wait_s, deadline_s = options.args if options else ("5", "120")
    port = free_port()
    stack = own_stack(
        workers=1,
        NOTIFY_HUMAN_ACK_WAIT_S=wait_s,
        NOTIFY_CRITICAL_DEADLINE_S=deadline_s,
        NOTIFY_ROUND_BACKOFF_S="0.5",
        NOTIFY_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    store = stack.store()
    ours = settings.model_copy(
        update={"redis_url": stack.redis_url, "key_prefix": stack.env["NOTIFY_KEY_PREFIX"]}
    )
    xpub = [stack.env["NOTIFY_INGRESS_XPUB"]]
    with SessionServer(ours, store, host="127.0.0.1", port=port, xpub_addresses=xpub) as server:
        bot = RunningBot(ours, store)
        bot.thread.start()
        try:
            yield AckStack(stack, store, server)
        finally:
            bot.halt()
    assert bot.errors == []


def _user(store: Store, sandbox) -> tuple[str, int]:
    user, chat = f"ack-{uuid.uuid4().hex[:8]}", int(uuid.uuid4().int % 10**9) + 10**9
    store.telegram.link(user, chat)
    store.directory.update(user, email=f"{user}@example.com")
    return user, chat


def _button(sandbox, chat: int, count: int = 1) -> dict:
    """The `count`-th message with a "Got it" button sent to the chat, once it is there."""
    return wait_until(
        lambda: (
            (sent := [m for m in sandbox.state.sent_to(chat) if "reply_markup" in m])
            and len(sent) >= count
            and sent[count - 1]
        ),
        f"message {count} with a button in chat {chat}",
        30,
    )


def _emails(sandbox) -> list[dict]:
    return [r for r in sandbox.state.requests("sendgrid") if r["status"] == 202]


def test_a_liquidation_waits_for_got_it_on_telegram(ack_stack: AckStack, clean_sandbox):
    user, chat = _user(ack_stack.store, clean_sandbox)
    event = ack_stack.liquidation(user, ["TELEGRAM", "EMAIL"])
    with NotifyClient(ack_stack.stack.router(), identity=b"ack-tg") as client:
        delivery = client.send(event)
        message = _button(clean_sandbox, chat)
        button = message["reply_markup"]["inline_keyboard"][0][0]
        assert button["text"] == "Got it" and button["callback_data"].startswith("ack:")
        assert not delivery.done(), "accepted by Telegram is not acknowledged"
        clean_sandbox.state.queue_callback(message["message_id"])  # the person presses it
        ack = delivery.result(30)
    assert (ack.status, ack.delivered_via) == (AckStatus.DELIVERED, ChannelType.TELEGRAM)
    assert _emails(clean_sandbox) == [], "acknowledged before the wait was over: no email"

    edited = clean_sandbox.state.sent_to(chat)[0]
    assert re.search(r"\n\n✓ Acknowledged at \d\d:\d\d UTC$", edited["text"]), edited["text"]
    assert "reply_markup" not in edited, "the edit removed the button"
    assert edited["text"].startswith("Position liquidated")
    assert edited["entities"][0]["type"] == "bold", "the edit kept the formatting"
    methods = [r["path"].rsplit("/", 1)[-1] for r in clean_sandbox.state.requests("telegram")]
    assert methods.count("answerCallbackQuery") == 1

    assert clean_sandbox.state.queue_callback(message["message_id"]) is None, "no button left"
    kinds = [e["kind"] for e in ack_stack.store.delivery_log.read(user, event.event_id)]
    assert kinds == ["delivered", "acknowledged"]

    story = notify(ack_stack.stack.env, "trace", event.event_id, "--user", user)
    assert story.returncode == 0, story.stderr
    assert "TELEGRAM: delivered" in story.stdout
    assert re.search(r"acknowledged by the person on TELEGRAM, [\d.]+s after", story.stdout)
    assert story.stdout.rstrip().endswith("final ack: DELIVERED via TELEGRAM")


@pytest.mark.ack_stack("2", "120")
def test_without_a_press_it_escalates_and_the_email_link_acknowledges(
    ack_stack: AckStack, clean_sandbox
):
    user, chat = _user(ack_stack.store, clean_sandbox)
    event = ack_stack.liquidation(user, ["TELEGRAM", "EMAIL"])
    with NotifyClient(ack_stack.stack.router(), identity=b"ack-mail") as client:
        delivery = client.send(event)
        _button(clean_sandbox, chat)  # Telegram accepted it; nobody presses
        [email] = wait_until(lambda: _emails(clean_sandbox), "the email after the wait", 30)
        text = json.dumps(email["json"])
        link = ACK_LINK.search(text).group(0)
        assert not delivery.done()

        forged = httpx.get(link[:-3] + "abc", timeout=10)
        assert forged.status_code == 404
        opened = httpx.get(link, timeout=10)  # a mail scanner's visit does not acknowledge
        assert opened.status_code == 200 and "Got it" in opened.text
        assert not delivery.done()
        confirmed = httpx.get(link, params={"confirm": "yes"}, timeout=10)
        assert confirmed.status_code == 200 and "acknowledged (via EMAIL)" in confirmed.text
        ack = delivery.result(30)
    assert (ack.status, ack.delivered_via) == (AckStatus.DELIVERED, ChannelType.EMAIL)
    again = httpx.get(link, params={"confirm": "yes"}, timeout=10)
    assert again.status_code == 410, "single use"
    telegram_sends = [
        r for r in clean_sandbox.state.requests("telegram") if r["path"].endswith("sendMessage")
    ]
    assert len(telegram_sends) == 1

    log = ack_stack.store.delivery_log.read(user, event.event_id)
    assert [(e["channel"], e["kind"]) for e in log] == [
        ("TELEGRAM", "delivered"),
        ("TELEGRAM", "skipped"),
        ("EMAIL", "delivered"),
        ("EMAIL", "acknowledged"),
    ]
    assert log[1]["detail"] == "delivered, not acknowledged within 2s"


@pytest.mark.ack_stack("1", "8")
def test_nobody_acknowledges_then_the_deadline_ends_it(ack_stack: AckStack, clean_sandbox):
    user, chat = _user(ack_stack.store, clean_sandbox)
    event = ack_stack.liquidation(user, ["TELEGRAM", "EMAIL"])
    with NotifyClient(ack_stack.stack.router(), identity=b"ack-none") as client:
        ack = client.send(event).result(60)
    assert ack.status == AckStatus.ACK_ERROR
    assert "not acknowledged" in ack.error_message, ack.error_message
    # Each round notified again (the next channel, then another round after a backoff).
    assert _button(clean_sandbox, chat, 2)["text"].startswith("Position liquidated")
    assert len(_emails(clean_sandbox)) >= 2
