"""Quiet hours and the flood guard, through the real processes against the sandbox's Telegram:
NORMAL events are held and go out as one digest per channel (each then DELIVERED via it), while
a CRITICAL event goes through at once. The workers' clock is set through settings
(NOTIFY_CLOCK_OFFSET_S), never by waiting for a real night."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from client import NotifyClient, make_event
from proto import AckStatus, ChannelType, held_until
from store import Store
from tests.faults.stack import Stack
from tests.helpers import wait_until

pytestmark = pytest.mark.broker

BERLIN = ZoneInfo("Europe/Berlin")
#: When the workers' clock reads 06:59:30 in Berlin: quiet hours 23:00-07:00 end 30 s later.
QUIET_LEFT_S = 30


def _clock_at_berlin(hour: int, minute: int, second: int) -> float:
    """The NOTIFY_CLOCK_OFFSET_S that makes now read hour:minute:second in Berlin."""
    now = datetime.now(BERLIN)
    return now.replace(hour=hour, minute=minute, second=second, microsecond=0).timestamp() - (
        now.timestamp()
    )


def _telegram_user(store: Store, **profile: str) -> tuple[str, int]:
    user, chat = f"dg-{uuid.uuid4().hex[:8]}", int(uuid.uuid4().int % 10**9) + 10**9
    store.telegram.link(user, chat)
    if profile:
        store.directory.update(user, **profile)
    return user, chat


def _log(user: str, n: int, strategy: str = "Grid BTC"):
    payload = {
        "strategy_id": "s-1",
        "strategy_name": strategy,
        "log_level": "info",
        "message": f"tick {n}",
    }
    return make_event(user, "STRATEGY_LOG", "NORMAL", ["TELEGRAM"], payload)


def _alert(user: str):
    payload = {
        "alert_id": "a-1",
        "symbol": "BTC/USDT",
        "condition": "BTC > 50000",
        "triggered_price": "50001",
    }
    return make_event(user, "ALERT_TRIGGERED", "NORMAL", ["TELEGRAM"], payload)


def _fill(user: str):
    payload = {
        "order_id": "o-1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "quantity": "1",
        "fill_price": "50000",
    }
    return make_event(user, "ORDER_FILLED", "CRITICAL", ["TELEGRAM"], payload)


def test_quiet_hours_hold_normal_events_for_one_digest_and_critical_goes_through(
    own_stack, clean_sandbox
):
    offset = _clock_at_berlin(6, 59, 60 - QUIET_LEFT_S)
    started = time.time()
    stack: Stack = own_stack(
        workers=1,
        NOTIFY_CLOCK_OFFSET_S=str(offset),
        NOTIFY_NORMAL_TTL_S="5",  # shorter than the hold: the TTL counts from its end
    )
    store = stack.store()
    user, chat = _telegram_user(store, quiet="23:00-07:00", timezone="Europe/Berlin")
    assert time.time() - started < QUIET_LEFT_S - 10, "the stack took too long to start"

    queued: list = []
    with NotifyClient(stack.router(), identity=uuid.uuid4().hex.encode()) as client:
        normal = [_log(user, n) for n in range(3)] + [_alert(user)]
        held = [client.send(event, on_ack=queued.append) for event in normal]
        fill = client.send(_fill(user)).result(30)
        assert (fill.status, fill.delivered_via) == (AckStatus.DELIVERED, ChannelType.TELEGRAM)
        assert len(clean_sandbox.state.sent_to(chat)) == 1, "during quiet hours: only CRITICAL"
        assert not any(d.done() for d in held)
        acks = [d.result(QUIET_LEFT_S + 30) for d in held]

    assert {(a.status, a.delivered_via) for a in acks} == {
        (AckStatus.DELIVERED, ChannelType.TELEGRAM)
    }
    sent = clean_sandbox.state.sent_to(chat)
    assert len(sent) == 2, [m["text"] for m in sent]
    digest = sent[1]["text"]
    assert digest.startswith("4 notifications during quiet hours"), digest
    assert "3 log lines from strategy Grid BTC, 1 alert" in digest
    # Held past the TTL: the container was told until when, and waited that long.
    told = {
        a.event_id for a in queued if a.status == AckStatus.QUEUED and held_until(a.error_message)
    }
    assert told == {e.event_id for e in normal}, "each held event: QUEUED 'held for a digest until'"
    log = store.delivery_log.read(user, normal[0].event_id)
    assert (
        log[-1]["kind"] == "delivered"
        and "in a digest of 4 events on TELEGRAM" in log[-1]["detail"]
    )


def test_the_flood_guard_turns_a_noisy_strategy_into_one_digest(own_stack, clean_sandbox):
    stack: Stack = own_stack(workers=1, NOTIFY_FLOOD_LIMIT="3", NOTIFY_FLOOD_WINDOW_S="10")
    store = stack.store()
    user, chat = _telegram_user(store)
    if time.time() % 10 > 4:  # all of them in one window
        time.sleep(10 - time.time() % 10)
    with NotifyClient(stack.router(), identity=uuid.uuid4().hex.encode()) as client:
        noisy = [client.send(_log(user, n, "Scalper")) for n in range(8)]
        fill = client.send(_fill(user)).result(30)
        assert fill.delivered_via == ChannelType.TELEGRAM, "a liquidation is never drowned"
        acks = [d.result(40) for d in noisy]

    assert [a.error_message for a in acks if a.status != AckStatus.DELIVERED] == []
    assert {(a.status, a.delivered_via) for a in acks} == {
        (AckStatus.DELIVERED, ChannelType.TELEGRAM)
    }
    texts = [m["text"] for m in clean_sandbox.state.sent_to(chat)]
    digests = [t for t in texts if "from a flood of events" in t]
    assert len(texts) == 3 + 1 + 1, texts  # three logs, the fill, one digest of the other five
    assert len(digests) == 1 and "5 log lines from strategy Scalper" in digests[0]
    wait_until(lambda: not store.digests.held(user, "TELEGRAM"), "nothing left held")
