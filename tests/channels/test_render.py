"""Channel-neutral rendering (summarize), Slack/Discord formatting and the Outcome value."""

from __future__ import annotations

import json

import pytest

from channels import Kind, Notice, Outcome, SkipCode, summarize
from channels import discord as discord_channel
from channels import slack as slack_channel
from proto import DeliverySpec, EventType, Priority, UserEvent
from tests.helpers import make_notice


def notice(event_type: str, payload: dict, priority: str = "NORMAL") -> Notice:
    return make_notice(event_type, priority, payload, user_id="u-1", event_id="e-1")


def from_wire(event_type: str, payload: bytes) -> Notice:
    """A Notice the way the tasks build it: from a UserEvent with a raw JSON payload."""
    event = UserEvent(
        user_id="u-1",
        event_id="e-1",
        event_type=EventType.Value(event_type),
        payload=payload,
        delivery=DeliverySpec(priority=Priority.CRITICAL),
    )
    return Notice.from_event(event)


ORDER = {
    "side": "buy",
    "fill_quantity": "0.5",
    "symbol": "BTC/USDT",
    "fill_price": "50000",
    "exchange": "binance",
    "quantity": "1",
    "price": "49000",
}

#: (event type, payload, title, lines)
FAMILIES = [
    ("ORDER_FILLED", ORDER, "Order filled — BUY 0.5 BTC/USDT @ 50000 (binance)", ()),
    (
        "ORDER_PLACED",
        {
            "side": "sell",
            "quantity": "0.00000001",
            "symbol": "BTC/USDT",
            "price": "50000.10",
            "exchange": "binance",
            "order_type": "limit",
            "order_id": "o-1",
            "strategy_id": "s-1",
        },
        "Order placed — SELL 0.00000001 BTC/USDT @ 50000.10 (binance)",
        ("Type: limit", "Order: o-1", "Strategy: s-1"),
    ),
    (
        "ORDER_REJECTED",
        {
            "side": "buy",
            "quantity": "2",
            "symbol": "ETH/USDT",
            "error_message": "insufficient balance",
        },
        "Order rejected — BUY 2 ETH/USDT",
        ("Error: insufficient balance",),
    ),
    (
        "ALERT_TRIGGERED",
        {
            "alert_id": "a-1",
            "symbol": "BTC/USDT",
            "condition": "BTC > 50000",
            "triggered_price": "50001.50",
        },
        "Alert triggered — BTC/USDT: BTC > 50000 at 50001.50",
        ("Alert: a-1",),
    ),
    (
        "POSITION_LIQUIDATED",
        {
            "side": "long",
            "size": "2",
            "symbol": "ETH/USDT",
            "exchange": "bybit",
            "liquidation_price": "1500.25",
            "leverage": "10",
            "realized_pnl": "-3000.00",
        },
        "Position liquidated — LONG 2 ETH/USDT (bybit)",
        ("Liquidation: 1500.25", "Realized PnL: -3000.00", "Leverage: 10"),
    ),
    (
        "WORKSPACE_CHANGED",
        {
            "workspace_id": "w-1",
            "change_type": "symbol_changed",
            "symbol": "ETH/USDT",
            "timeframe": "1h",
        },
        "Workspace changed — ETH/USDT 1h",
        ("Change: symbol_changed", "Workspace: w-1"),
    ),
    (
        "STRATEGY_ERROR",
        {"strategy_id": "s-1", "strategy_name": "Grid", "log_level": "error", "message": "boom"},
        "Strategy error — Grid: [ERROR] boom",
        (),
    ),
    (
        "BACKTEST_COMPLETED",
        {
            "strategy_name": "Grid",
            "symbol": "BTC/USDT",
            "timeframe": "4h",
            "total_trades": 42,
            "winning_trades": 30,
            "total_pnl": "1234.50",
            "win_rate": "0.71",
        },
        "Backtest completed — Grid on BTC/USDT 4h",
        ("Trades: 42", "Winning: 30", "Total PnL: 1234.50", "Win rate: 0.71"),
    ),
    (
        "CONTAINER_READY",
        {"container_id": "c-1", "hostname": "node-7"},
        "Container ready",
        ("container_id: c-1", "hostname: node-7"),
    ),
]


@pytest.mark.parametrize(
    ("event_type", "payload", "title", "lines"), FAMILIES, ids=[f[0] for f in FAMILIES]
)
def test_summarize_each_family(event_type: str, payload: dict, title: str, lines: tuple) -> None:
    summary = summarize(notice(event_type, payload))
    assert summary.title == title
    assert summary.lines == lines
    assert summary.text == "\n".join((title, *lines))


def test_a_payload_from_the_wire_keeps_decimal_strings() -> None:
    payload = {
        "side": "buy",
        "fill_quantity": "0.00000001",
        "symbol": "BTC/USDT",
        "fill_price": "50000.10",
        "exchange": "binance",
    }
    summary = summarize(from_wire("ORDER_FILLED", json.dumps(payload).encode()))
    assert summary.title == "Order filled — BUY 0.00000001 BTC/USDT @ 50000.10 (binance)"


def test_a_payload_with_json_numbers_keeps_their_spelling() -> None:
    raw = (
        b'{"side": "buy", "fill_quantity": 0.00000001, "symbol": "BTC/USDT", '
        b'"fill_price": 50000.10}'
    )
    summary = summarize(from_wire("ORDER_FILLED", raw))
    assert summary.title == "Order filled — BUY 0.00000001 BTC/USDT @ 50000.10"


ODD_PAYLOADS = [
    {},
    {
        "side": 1,
        "fill_quantity": 0.5,
        "symbol": {"base": "BTC"},
        "fill_price": [1, 2],
        "exchange": None,
    },
    {"side": True, "symbol": "", "condition": {"gt": 5}, "triggered_price": False},
    {"message": ["a", "b"], "log_level": 3, "strategy_name": {"x": 1}},
    {"total_trades": "many", "win_rate": None, "strategy_name": "   "},
    {"nested": {"deep": {"deeper": [1, {"x": None}]}}, "n": 1e308, "s": "x" * 10_000},
]


@pytest.mark.parametrize("event_type", list(EventType.keys()))
@pytest.mark.parametrize("payload", ODD_PAYLOADS, ids=range(len(ODD_PAYLOADS)))
def test_odd_payloads_never_raise(event_type: str, payload: dict) -> None:
    for priority in ("CRITICAL", "NORMAL", "INFORMATIONAL", ""):
        item = notice(event_type, payload, priority)
        summary = summarize(item)
        assert summary.title
        assert isinstance(summary.text, str)
        assert discord_channel.CHANNEL.render(item)["embeds"][0]["title"]
        assert slack_channel.CHANNEL.render(item)["text"]


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b'"text"', b"42", b"null", b'{"side": "buy"}'])
def test_non_object_payloads_from_the_wire_become_empty(raw: bytes) -> None:
    item = from_wire("ORDER_FILLED", raw)
    assert isinstance(item.payload, dict)
    assert summarize(item).title.startswith("Order filled")


def test_discord_limits_and_mentions() -> None:
    item = notice(
        "STRATEGY_LOG",
        {"strategy_name": "S", "message": "@everyone " + "x" * 5000},
        priority="CRITICAL",
    )
    body = discord_channel.CHANNEL.render(item)
    embed = body["embeds"][0]
    assert body["allowed_mentions"] == {"parse": []}
    assert len(body["content"]) <= 2000
    assert len(embed["title"]) <= 256
    assert len(embed["description"]) <= 4096
    assert embed["color"] == discord_channel.COLOURS["CRITICAL"]
    assert embed["footer"]["text"] == "CRITICAL · e-1"


def test_slack_escapes_control_characters_in_mrkdwn() -> None:
    item = notice(
        "ORDER_REJECTED",
        {
            "side": "buy",
            "quantity": "1",
            "symbol": "A&B",
            "error_message": "<!channel> price < 5 & > 2",
        },
    )
    body = slack_channel.CHANNEL.render(item)
    section = body["blocks"][1]["text"]
    assert section["type"] == "mrkdwn"
    assert section["text"] == "Error: &lt;!channel&gt; price &lt; 5 &amp; &gt; 2"
    # A plain_text header is shown as is: no escaping there.
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "Order rejected — BUY 1 A&B"}
    context = body["blocks"][-1]["elements"][0]
    assert context == {"type": "mrkdwn", "text": "NORMAL · e-1"}


def test_slack_escapes_the_event_id_in_the_context() -> None:
    body = slack_channel.CHANNEL.render(Notice("u", "<e&1>", "CONTAINER_READY", "NORMAL"))
    assert body["blocks"][-1]["elements"][0]["text"] == "NORMAL · &lt;e&amp;1&gt;"


def test_slack_fallback_text_is_escaped_too() -> None:
    item = notice("STRATEGY_LOG", {"strategy_name": "S", "message": "<!channel> a & b"})
    body = slack_channel.CHANNEL.render(item)
    assert "<!channel>" not in body["text"]
    assert "&lt;!channel&gt;" in body["text"]


def test_slack_sizes() -> None:
    item = notice("CONTAINER_READY", {f"k{i}": "v" * 100 for i in range(100)})
    body = slack_channel.CHANNEL.render(item)
    assert len(body["text"]) <= 3000
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    assert len(body["blocks"][1]["text"]["text"]) <= 3000


def test_slack_without_detail_lines_has_no_section() -> None:
    body = slack_channel.CHANNEL.render(notice("CONTAINER_READY", {}))
    assert [block["type"] for block in body["blocks"]] == ["header", "context"]


# -- Outcome -------------------------------------------------------------------------------------

OUTCOMES = [
    Outcome.delivered("discord HTTP 204"),
    Outcome.transient("discord HTTP 500: Internal Server Error"),
    Outcome.rate_limited("slack HTTP 429: rate_limited", 3.0),
    Outcome.permanent("discord HTTP 404: Unknown Webhook"),
    *(Outcome.skipped(code, f"skipped: {code}") for code in SkipCode),
]


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: f"{o.kind}-{o.skip}")
def test_outcome_round_trips_through_json(outcome: Outcome) -> None:
    data = json.loads(json.dumps(outcome.as_dict()))  # as it crosses Celery and the log
    assert Outcome.from_dict(data) == outcome
    assert Outcome.from_dict({"channel": "WEB", **data}) == outcome  # the carry adds a channel


def test_outcome_dict_is_plain_data() -> None:
    data = Outcome.skipped(SkipCode.NOT_ACTIVE, "no live web session").as_dict()
    assert data == {
        "kind": "skipped",
        "detail": "no live web session",
        "retry_after_s": None,
        "receipt": None,
        "skip": "not_active",
        "forget": [],
        "moved_to": None,
        "latency_s": None,
    }
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize(
    ("outcome", "worth"),
    [
        (Outcome.transient("x"), True),
        (Outcome.rate_limited("x", 1.0), True),
        (Outcome.skipped(SkipCode.NOT_ACTIVE, "x"), True),
        (Outcome.skipped(SkipCode.PROVIDER_DOWN, "x"), True),
        (Outcome.skipped(SkipCode.NOT_ACKNOWLEDGED, "x"), True),
        (Outcome.delivered(), False),
        (Outcome.permanent("x"), False),
        *(
            (Outcome.skipped(code, "x"), False)
            for code in SkipCode
            if code not in (SkipCode.NOT_ACTIVE, SkipCode.PROVIDER_DOWN, SkipCode.NOT_ACKNOWLEDGED)
        ),
    ],
    ids=lambda v: f"{v.kind}-{v.skip}" if isinstance(v, Outcome) else str(v),
)
def test_worth_another_round(outcome: Outcome, worth: bool) -> None:
    assert outcome.worth_another_round is worth
    assert Outcome.from_dict(outcome.as_dict()).worth_another_round is worth


def test_kind_values_are_the_wire_strings() -> None:
    assert [k.value for k in Kind] == [
        "delivered",
        "transient",
        "rate_limited",
        "permanent",
        "skipped",
        "awaiting_ack",
    ]


def test_a_number_with_a_huge_exponent_stays_short() -> None:
    raw = b'{"side": "buy", "symbol": "BTC/USDT", "fill_price": 1e50000000, "fill_quantity": 1E-400000}'
    summary = summarize(from_wire("ORDER_FILLED", raw))
    assert summary.title == "Order filled — BUY 1E-400000 BTC/USDT @ 1E+50000000"


def test_discord_text_cannot_format_or_link() -> None:
    item = notice(
        "STRATEGY_LOG",
        {"strategy_name": "x", "message": "[free money](http://evil.example) **now** `rm`"},
    )
    body = discord_channel.CHANNEL.render(item)
    for text in (body["content"], body["embeds"][0]["title"]):
        assert "[free money](" not in text
        assert r"\[free money\](http://evil.example)" in text
        assert r"\*\*now\*\*" in text and r"\`rm\`" in text
    heading = discord_channel.CHANNEL.render(notice("STRATEGY_LOG", {"message": "x"}))
    assert not heading["embeds"][0]["description"].startswith("#")
