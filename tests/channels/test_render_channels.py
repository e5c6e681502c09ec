"""Every EventType of the proto renders readably on every channel (the text is asserted)."""

from __future__ import annotations

import html
import json

import pytest

from channels import Notice, discord, email, push, slack, summarize, telegram
from proto import EventType, UserEvent
from sessions import event_message

ORDER = {
    "side": "sell",
    "quantity": "1.25",
    "symbol": "ETH/USDT",
    "price": "3100.50",
    "order_type": "limit",
    "exchange": "kraken",
    "error_message": "insufficient margin",
}
FILL = {
    "side": "buy",
    "quantity": "1",
    "fill_quantity": "0.5",
    "symbol": "BTC/USDT",
    "price": "49000",
    "fill_price": "50000",
    "exchange": "binance",
}
ALERT = {
    "symbol": "BTC/USDT",
    "condition": "BTC > 50000",
    "triggered_price": "50012.5",
    "alert_id": "a-7",
}
POSITION = {
    "side": "long",
    "size": "2",
    "symbol": "ETH/USDT",
    "exchange": "bybit",
    "entry_price": "3000",
    "liquidation_price": "2500.00",
    "unrealized_pnl": "-412.75",
}
WORKSPACE = {"symbol": "BTC/USDT", "timeframe": "1h", "change_type": "timeframe_changed"}
STRATEGY = {"strategy_name": "Grid <v2>", "log_level": "warn", "message": "spread & fees > 1%"}
BACKTEST = {
    "strategy_name": "Grid",
    "symbol": "BTC/USDT",
    "timeframe": "1d",
    "total_trades": 42,
    "total_pnl": "1234.50",
    "win_rate": "0.61",
    "max_drawdown": "0.125",
}

#: EventType -> (payload, exact title, a detail line that must show up)
CASES = {
    "ORDER_PLACED": (ORDER, "Order placed — SELL 1.25 ETH/USDT @ 3100.50 (kraken)", "Type: limit"),
    "ORDER_FILLED": (FILL, "Order filled — BUY 0.5 BTC/USDT @ 50000 (binance)", None),
    "ORDER_CANCELLED": (
        ORDER,
        "Order cancelled — SELL 1.25 ETH/USDT @ 3100.50 (kraken)",
        "Type: limit",
    ),
    "ORDER_REJECTED": (
        ORDER,
        "Order rejected — SELL 1.25 ETH/USDT @ 3100.50 (kraken)",
        "Error: insufficient margin",
    ),
    "ORDER_EXPIRED": (
        ORDER,
        "Order expired — SELL 1.25 ETH/USDT @ 3100.50 (kraken)",
        "Type: limit",
    ),
    "ALERT_TRIGGERED": (ALERT, "Alert triggered — BTC/USDT: BTC > 50000 at 50012.5", "Alert: a-7"),
    "ALERT_CREATED": (ALERT, "Alert created — BTC/USDT: BTC > 50000 at 50012.5", "Alert: a-7"),
    "ALERT_DELETED": (ALERT, "Alert deleted — BTC/USDT: BTC > 50000 at 50012.5", "Alert: a-7"),
    "POSITION_OPENED": (POSITION, "Position opened — LONG 2 ETH/USDT (bybit)", "Entry: 3000"),
    "POSITION_CLOSED": (POSITION, "Position closed — LONG 2 ETH/USDT (bybit)", "Entry: 3000"),
    "POSITION_UPDATED": (
        POSITION,
        "Position updated — LONG 2 ETH/USDT (bybit)",
        "Unrealized PnL: -412.75",
    ),
    "POSITION_LIQUIDATED": (
        POSITION,
        "Position liquidated — LONG 2 ETH/USDT (bybit)",
        "Liquidation: 2500.00",
    ),
    "WORKSPACE_CHANGED": (
        WORKSPACE,
        "Workspace changed — BTC/USDT 1h",
        "Change: timeframe_changed",
    ),
    "CHART_ANNOTATION_ADDED": (
        {"symbol": "BTC/USDT", "annotation_type": "trendline"},
        "Chart annotation added — BTC/USDT trendline",
        None,
    ),
    "CHART_ANNOTATION_REMOVED": (
        {"symbol": "BTC/USDT", "annotation_id": "n-1"},
        "Chart annotation removed — BTC/USDT",
        "Annotation: n-1",
    ),
    "INDICATOR_UPDATED": (
        {"indicator_name": "RSI", "symbol": "BTC/USDT", "timeframe": "4h"},
        "Indicator updated — BTC/USDT 4h RSI",
        None,
    ),
    "STRATEGY_STARTED": ({"strategy_name": "Grid"}, "Strategy started — Grid", None),
    "STRATEGY_STOPPED": ({"strategy_id": "s-9"}, "Strategy stopped — s-9", None),
    "STRATEGY_LOG": (STRATEGY, "Strategy log — Grid <v2>: [WARN] spread & fees > 1%", None),
    "STRATEGY_ERROR": (STRATEGY, "Strategy error — Grid <v2>: [WARN] spread & fees > 1%", None),
    "BACKTEST_COMPLETED": (
        BACKTEST,
        "Backtest completed — Grid on BTC/USDT 1d",
        "Total PnL: 1234.50",
    ),
    "CONTAINER_STARTING": ({}, "Container starting", None),
    "CONTAINER_READY": ({}, "Container ready", None),
    "CONTAINER_SHUTTING_DOWN": ({"reason": "deploy"}, "Container shutting down", "reason: deploy"),
    "EVENT_ERROR": ({"message": "boom"}, "Event error", "message: boom"),
}


def test_every_event_type_has_a_case():
    assert set(CASES) == set(EventType.keys())


def _event(event_type: str, payload: dict) -> UserEvent:
    event = UserEvent(
        user_id="u1",
        event_id="e-1",
        event_type=EventType.Value(event_type),
        payload=json.dumps(payload).encode(),
    )
    event.delivery.priority = 2
    return event


@pytest.mark.parametrize("event_type", sorted(CASES))
def test_rendering_on_every_channel(event_type: str):
    payload, title, line = CASES[event_type]
    event = _event(event_type, payload)
    notice = Notice.from_event(event)
    assert summarize(notice).title == title
    if line:
        assert line in summarize(notice).lines

    body = discord.CHANNEL.render(notice)
    assert body["embeds"][0]["title"] == discord.escape(title)  # Discord markdown, escaped
    assert body["content"] == discord.escape(title)
    if line:
        assert discord.escape(line) in body["embeds"][0]["description"]

    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    blocks = slack.CHANNEL.render(notice)
    assert blocks["blocks"][0]["text"]["text"] == title  # plain_text header: no mrkdwn
    assert blocks["text"].startswith(escaped)

    mail = email.CHANNEL.render(notice)
    assert mail.subject == title
    assert mail.text.startswith(title)
    assert f"<h2>{html.escape(title)}</h2>" in mail.html
    if line:
        assert line in mail.text and html.escape(line) in mail.html

    note = push.CHANNEL.render(notice)
    assert note.title == title
    assert note.data["event_type"] == event_type and note.data["event_id"] == "e-1"

    text = telegram.CHANNEL.render(notice)
    assert html.escape(title, quote=False) in text or html.escape(title) in text
    if line:
        assert html.escape(line, quote=False) in text or html.escape(line) in text

    web = json.loads(event_message(event))
    assert web["title"] == title
    assert web["payload"] == json.loads(json.dumps(payload))
