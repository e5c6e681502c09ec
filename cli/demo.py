"""`notify demo`: a realistic minute against the running stack (`notify up`).

Four users with every address (the sandbox stands in for every provider), and a mix of
INFORMATIONAL, NORMAL and CRITICAL events of every payload type: an order filled, alerts, a
strategy log burst, a backtest, and a liquidation warning while Discord answers 500, so it
escalates to Telegram, where it waits for the person's "Got it" (a liquidation, a rejected order
and a strategy error ask for it): a simulated person (demo_person.py) presses the button or opens
the one-click link a few seconds after each such message arrives. Also: a position update
edited in place in Telegram; dave's quiet hours, which hold his NORMAL events for one digest
at their end (set to end about a minute after the last event is sent) while his order fill goes
through; and carol's noisy strategy, which the flood guard turns into one digest. Each ack is
printed as it arrives; a summary table ends it.
"""

from __future__ import annotations

import queue
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["demo"]

USERS = ("alice", "bob", "carol", "dave")
#: The demo user whose quiet hours are on while the demo runs.
QUIET_USER = "dave"
#: How often the person looks at what arrived.
TICK_S = 0.5


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the scenario."""

    user: str
    event_type: str
    priority: str
    channels: tuple[str, ...]
    payload: Any
    #: Sent this many times at once (a burst).
    repeat: int = 1


def _scenario(flood_limit: int) -> list[Step]:
    from client import (
        AlertEventPayload,
        BacktestEventPayload,
        OrderEventPayload,
        PositionEventPayload,
        StrategyEventPayload,
        WorkspaceEventPayload,
    )

    order = OrderEventPayload(
        order_id="o-1001", symbol="BTC/USDT", side="buy", order_type="limit", quantity="0.5",
        price="50000", fill_price="49990.5", fill_quantity="0.5", status="filled",
        exchange="binance", strategy_id="grid-1",
    )  # fmt: skip
    burst = [
        Step("carol", "STRATEGY_LOG", "INFORMATIONAL", (),
             StrategyEventPayload(strategy_id="mm-3", strategy_name="market maker",
                                  log_level="info", message=f"quote refreshed #{n}"))
        for n in range(12)
    ]  # fmt: skip
    return [
        Step("alice", "CONTAINER_READY", "INFORMATIONAL", (), {"container": "alice-bot"}),
        Step("alice", "ORDER_FILLED", "CRITICAL", ("TELEGRAM", "EMAIL"), order),
        Step("bob", "ALERT_TRIGGERED", "NORMAL", ("ACTIVE_SESSION", "TELEGRAM"),
             AlertEventPayload(alert_id="a-7", symbol="ETH/USDT", condition="ETH > 3000",
                               triggered_price="3001.25")),
        Step("carol", "POSITION_UPDATED", "NORMAL", ("TELEGRAM",),
             PositionEventPayload(position_id="p-9", symbol="SOL/USDT", side="long", size="40",
                                  entry_price="142.1", current_price="139.8",
                                  unrealized_pnl="-92.0", leverage="3")),
        Step(QUIET_USER, "ALERT_TRIGGERED", "NORMAL", ("TELEGRAM",),
             AlertEventPayload(alert_id="a-3", symbol="BTC/USDT", condition="BTC > 51000",
                               triggered_price="51000.5")),
        *burst[:6],
        Step(QUIET_USER, "STRATEGY_LOG", "NORMAL", ("TELEGRAM",),
             StrategyEventPayload(strategy_id="dca-4", strategy_name="night DCA",
                                  log_level="info", message="bought 0.01 BTC"), repeat=3),
        Step("carol", "STRATEGY_LOG", "NORMAL", ("EMAIL",),
             StrategyEventPayload(strategy_id="mm-3", strategy_name="market maker",
                                  log_level="debug", message="inventory rebalanced"),
             repeat=flood_limit + 5 if flood_limit else 0),
        Step("carol", "POSITION_UPDATED", "NORMAL", ("TELEGRAM",),
             PositionEventPayload(position_id="p-9", symbol="SOL/USDT", side="long", size="40",
                                  entry_price="142.1", current_price="141.2",
                                  unrealized_pnl="-36.0", leverage="3")),
        Step(QUIET_USER, "ORDER_FILLED", "CRITICAL", ("TELEGRAM",),
             OrderEventPayload(order_id="o-77", symbol="BTC/USDT", side="buy", order_type="market",
                               quantity="0.01", fill_price="50990", fill_quantity="0.01",
                               status="filled")),
        Step("bob", "POSITION_LIQUIDATED", "CRITICAL", ("DISCORD", "TELEGRAM"),
             PositionEventPayload(position_id="p-2", symbol="ETH/USDT", side="long", size="3",
                                  entry_price="3120", current_price="2810",
                                  liquidation_price="2805.5", leverage="10", exchange="bybit")),
        Step("alice", "INDICATOR_UPDATED", "INFORMATIONAL", (),
             WorkspaceEventPayload(workspace_id="w-1", indicator_name="RSI",
                                   indicator_params={"period": 14})),
        *burst[6:],
        Step("carol", "STRATEGY_LOG", "NORMAL", ("EMAIL",),
             StrategyEventPayload(strategy_id="mm-3", strategy_name="market maker",
                                  log_level="warn", message="spread widened past 0.4 %")),
        Step("bob", "ORDER_REJECTED", "CRITICAL", ("PUSH", "EMAIL"),
             OrderEventPayload(order_id="o-2002", symbol="ETH/USDT", side="sell",
                               order_type="market", quantity="3", status="rejected",
                               error_message="insufficient margin")),
        Step("carol", "BACKTEST_COMPLETED", "NORMAL", ("EMAIL",),
             BacktestEventPayload(backtest_id="bt-5", strategy_name="mean reversion",
                                  symbol="BTC/USDT", timeframe="1h", total_trades=412,
                                  winning_trades=231, losing_trades=181, total_pnl="1840.77",
                                  win_rate="0.56", sharpe_ratio="1.42", max_drawdown="0.11")),
        Step("alice", "ALERT_CREATED", "NORMAL", ("SLACK",),
             AlertEventPayload(alert_id="a-8", symbol="BTC/USDT", condition="BTC < 48000")),
        Step("alice", "CHART_ANNOTATION_ADDED", "INFORMATIONAL", (),
             WorkspaceEventPayload(workspace_id="w-1", annotation_id="n-1",
                                   annotation_type="horizontal",
                                   annotation_data={"price": 48000})),
        Step("alice", "STRATEGY_ERROR", "CRITICAL", ("TELEGRAM", "PUSH"),
             StrategyEventPayload(strategy_id="grid-1", strategy_name="BTC grid",
                                  log_level="error", message="exchange API key rejected")),
    ]  # fmt: skip


def _chats() -> dict[str, str]:
    """Each demo user's Telegram chat id."""
    return {str(4242 + number): user for number, user in enumerate(USERS)}


def _users(store, sandbox_url: str, quiet: str) -> None:
    for number, user in enumerate(USERS):
        store.directory.update(
            user,
            email=f"{user}@example.com",
            telegram_chat=str(4242 + number),
            push_tokens=(f"device-{user}",),
            discord_webhook=f"{sandbox_url}/discord/api/webhooks/1/demo-{user}",
            slack_webhook=f"{sandbox_url}/slack/services/T0/B0/demo-{user}",
            quiet=quiet if user == QUIET_USER else "",
            timezone="Europe/Berlin" if user == QUIET_USER else "",
        )


def _quiet_window(now: float, ends_after_s: float) -> str:
    """Quiet hours in Berlin that began hours before `now` (unix s, as the workers' clock
    reads it) and end at the first full minute at least `ends_after_s` after it: HH:MM-HH:MM."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    later = datetime.fromtimestamp(now + ends_after_s + 60, ZoneInfo("Europe/Berlin"))
    end = later.replace(second=0, microsecond=0)
    return f"{end - timedelta(hours=8):%H:%M}-{end:%H:%M}"


def demo(
    duration: Annotated[
        float, typer.Option(help="Seconds the events are spread over (then the acks are awaited).")
    ] = 60.0,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the last final acks.")] = 120.0,
    real: Annotated[
        bool, typer.Option(help="Run even where providers are real (not the sandbox).")
    ] = False,
) -> None:
    """Play a realistic minute against the running stack and print every ack as it arrives,
    then a summary: sent, delivered per channel, escalated, failed. Exit 0 when every CRITICAL
    event was delivered. It (re)writes the addresses of the users alice, bob and carol.

    \b
    Examples:
      notify demo
      notify demo --duration 10
    """
    import httpx

    from client import ClientOptions, CurveKeys, NotifyClient, make_event
    from proto import AckStatus
    from sandbox import reset, set_switch

    from .demo_person import Person

    settings = settings_or_exit()
    if not real and _real_providers(settings):
        typer.echo(
            "notify: providers other than the sandbox are configured "
            f"({', '.join(_real_providers(settings))}): the demo would send to made-up users "
            "there; use the local stack (notify up), or --real",
            err=True,
        )
        raise typer.Exit(2)
    store = store_or_exit(settings)
    sandbox_url = settings.sandbox_url
    try:
        reset(sandbox_url)
    except httpx.HTTPError as exc:
        typer.echo(
            f"notify: no sandbox answers at {sandbox_url}; start the stack with `notify up`",
            err=True,
        )
        raise typer.Exit(1) from exc
    # dave's quiet hours end once every event was sent: his digest comes within a minute after.
    quiet = _quiet_window(time.time() + settings.clock_offset_s, duration + 15)
    _users(store, sandbox_url, quiet)
    steps = _scenario(settings.flood_limit)
    sent: dict[str, tuple[Step, Any]] = {}
    acks = _Acks(sent)
    options = ClientOptions(
        critical_deadline_s=settings.critical_deadline_s,
        normal_ttl_s=settings.normal_ttl_s,
        limits=_limits(settings),
    )
    person = Person(sandbox_url, USERS)
    acks.tick = lambda: person.look(_chats())
    client = NotifyClient(
        settings.router_connect, identity=b"notify-demo", curve=CurveKeys.from_settings(settings),
        on_ack=acks.heard.put, options=options,
    )  # fmt: skip
    began = time.monotonic()
    typer.echo(f"notify demo: {sum(s.repeat for s in steps)} events for {', '.join(USERS)} over "
               f"{duration:g}s (Discord answers 500 throughout: watch the liquidation escalate to "
               f"Telegram and wait for bob's \"Got it\"; {QUIET_USER}'s quiet hours are {quiet} "
               f"Europe/Berlin)")  # fmt: skip
    try:
        set_switch(sandbox_url, "discord", "server_error")
        for number, step in enumerate(steps):
            due = began + duration * number / len(steps)
            acks.print_until(due)
            for _ in range(step.repeat):
                event = make_event(
                    step.user, step.event_type, step.priority, step.channels, step.payload
                )
                client.send(event)
                sent[event.event_id] = (step, event)
            times = f" x{step.repeat}" if step.repeat > 1 else ""
            typer.echo(
                f"{_clock()}  sent  {step.user:6} {step.event_type:22} {step.priority}{times}"
            )
        open_events = [e for e, (s, _) in sent.items() if s.priority != "INFORMATIONAL"]
        deadline = time.monotonic() + wait
        while len(acks.finals) < len(open_events) and time.monotonic() < deadline:
            acks.print_until(time.monotonic() + 0.2)
    except KeyboardInterrupt:
        typer.echo("\nnotify demo: stopped; what happened so far:")
    finally:
        client.close(timeout=0)
        set_switch(sandbox_url, "discord", "ok")
        store.directory.update(QUIET_USER, quiet="")  # a demo's quiet hours end with it
    typer.echo("")
    digests = _digests(store, sent)
    for line in _summary(sent, acks.finals, client.stats(), person.pressed, digests):
        typer.echo(line)
    liquidation = [eid for eid, (s, _) in sent.items() if s.event_type == "POSITION_LIQUIDATED"]
    if liquidation:
        typer.echo(f"\nthe liquidation's story: notify trace {liquidation[0]} --user bob")
    critical = [eid for eid, (s, _) in sent.items() if s.priority == "CRITICAL"]
    finals = acks.finals
    delivered = all(eid in finals and finals[eid].status == AckStatus.DELIVERED for eid in critical)
    raise typer.Exit(0 if delivered else 1)


def _real_providers(settings) -> list[str]:
    """The providers configured to go somewhere else than the local sandbox."""
    sandbox = settings.sandbox_url.rstrip("/")
    pointed = {
        "Telegram": (settings.telegram_token, settings.telegram_api_url),
        "SendGrid": (settings.sendgrid_api_key, settings.sendgrid_host),
        "FCM": (settings.fcm_credentials, settings.fcm_endpoint),
    }
    return [name for name, (key, url) in pointed.items() if key and not url.startswith(sandbox)]


def _limits(settings):
    from proto import Limits

    return Limits(settings.max_payload_bytes, settings.max_frame_bytes)


def _clock() -> str:
    return time.strftime("%H:%M:%S")


class _Acks:
    """The acks of the demo's events, printed as they come (QUEUED once per event)."""

    def __init__(self, sent: dict) -> None:
        self.heard: queue.SimpleQueue = queue.SimpleQueue()
        self.sent = sent
        self.finals: dict[str, Any] = {}
        self._queued: set[str] = set()
        #: Called about twice a second meanwhile; returns lines to print (the person's doings).
        self.tick: Callable[[], list[str]] = list

    def print_until(self, until: float) -> None:
        """Print acks as they come, until `until` (monotonic)."""
        from proto import AckStatus, ChannelType

        while (left := until - time.monotonic()) > 0:
            for line in self.tick():
                typer.echo(f"{_clock()}  person {line}")
            try:
                ack = self.heard.get(timeout=min(left, TICK_S))
            except queue.Empty:
                continue
            step, _ = self.sent.get(ack.event_id, (None, None))
            if step is None:
                continue
            if ack.status == AckStatus.QUEUED:
                if ack.event_id in self._queued:
                    continue  # a resend's replay: said once
                self._queued.add(ack.event_id)
                what = "QUEUED"
            elif ack.status == AckStatus.DELIVERED:
                what = f"DELIVERED via {ChannelType.Name(ack.delivered_via)}"
                self.finals[ack.event_id] = ack
            else:
                what = f"ACK_ERROR: {ack.error_message}"
                self.finals[ack.event_id] = ack
            typer.echo(f"{_clock()}  ack   {step.user:6} {step.event_type:22} {what}")


def _digests(store, sent: dict) -> Counter[str]:
    """Events delivered in a digest, by why ("quiet hours", "flood"), from the delivery log."""
    held: Counter[str] = Counter()
    for event_id, (step, _) in sent.items():
        if step.priority != "NORMAL":
            continue
        details = [e.get("detail", "") for e in store.delivery_log.read(step.user, event_id)]
        if any("in a digest of" in detail for detail in details):
            held["quiet hours" if step.user == QUIET_USER else "flood guard"] += 1
    return held


def _summary(sent: dict, finals: dict, stats, pressed: int, digests: Counter[str]) -> list[str]:
    from proto import AckStatus, ChannelType

    by_priority = Counter(step.priority for step, _ in sent.values())
    via: Counter[str] = Counter()
    escalated, failed = [], []
    for event_id, ack in finals.items():
        step, _ = sent[event_id]
        if ack.status == AckStatus.DELIVERED:
            channel = ChannelType.Name(ack.delivered_via)
            via[channel] += 1
            if step.channels and channel != step.channels[0]:
                escalated.append(f"{step.event_type} ({step.channels[0]} -> {channel})")
        else:
            failed.append(f"{step.event_type}: {ack.error_message}")
    waiting = sum(by_priority.values()) - by_priority["INFORMATIONAL"] - len(finals)
    rows = [
        ("sent", f"{sum(by_priority.values())}  ("
         + ", ".join(f"{p} {by_priority[p]}" for p in ("CRITICAL", "NORMAL", "INFORMATIONAL")) + ")"),
        ("delivered", f"{sum(via.values())}  (" + ", ".join(f"{c} {n}" for c, n in sorted(via.items())) + ")"),
        ("escalated", f"{len(escalated)}  " + "; ".join(escalated)),
        ("acknowledged", f"{pressed}  (\"Got it\" pressed or a link confirmed by the person)"),
        ("in digests", f"{sum(digests.values())}  ("
         + ", ".join(f"{why} {n}" for why, n in sorted(digests.items())) + ")"),
        ("failed", f"{len(failed)}  " + "; ".join(failed)),
        ("informational", f"{stats.informational_sent} sent, {stats.informational_dropped} dropped (no ack by design)"),
        ("no final ack", str(waiting)),
    ]  # fmt: skip
    return ["summary", *(f"  {label:14} {value}".rstrip() for label, value in rows)]
