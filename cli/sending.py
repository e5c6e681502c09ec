"""`notify send`: events through the ingress with the container client, acks as they arrive.

One event from options, or many from a JSON-lines file (`--events FILE`, `-` for stdin), one
object per line with the proto's field names:

    {"user_id": "alice", "event_type": "ORDER_FILLED", "priority": "CRITICAL",
     "channels": ["TELEGRAM", "EMAIL:active"], "payload": {"symbol": "BTC/USDT"}, "event_id": "f-1"}

Every line is checked before anything is sent (a bad one stops the command, naming its line).
The ingress is NOTIFY_CLIENT_INGRESS when set (comma-separated addresses, tried in order, as the
container client reads it), else the settings' router address.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import settings_or_exit

__all__ = ["send"]

#: The fields of a line of `--events`.
FIELDS = frozenset({"user_id", "event_type", "priority", "channels", "payload", "event_id"})
#: A file of more events than this shows a progress bar (on a terminal).
PROGRESS_FROM = 20
#: How long an INFORMATIONAL event waits for the ingress to connect, seconds.
CONNECT_WAIT_S = 5.0
#: Why the client dropped an INFORMATIONAL event, by ClientStats reason.
DROPPED_BECAUSE = {
    "full": "the client was full (max_in_flight events open)",
    "unconnected": f"no ingress connected within {CONNECT_WAIT_S:g}s",
    "closed": "the client closed before it went out",
}


def _parse_channels(values: list[str]) -> list[tuple[str, bool]]:
    from proto import ChannelType

    channels = []
    for value in values:
        name, _, flag = value.partition(":")
        if name.upper() not in ChannelType.keys() or flag not in ("", "active"):
            known = ", ".join(ChannelType.keys())
            raise ValueError(f"{value!r}: use NAME or NAME:active with NAME one of {known}")
        channels.append((name.upper(), flag == "active"))
    return channels


def _known(what: str, value: str, names: list[str]) -> str:
    if value.upper() not in names:
        raise ValueError(f"unknown {what} {value!r}; one of {', '.join(names)}")
    return value.upper()


def _event(
    user: str,
    type_: str,
    priority: str,
    channels: list[str],
    payload: Any,
    event_id: str | None,
):
    """A checked UserEvent; ValueError (or proto.InvalidEvent) saying what is wrong."""
    from client import make_event
    from proto import EventType, Priority

    if not isinstance(payload, dict):
        raise ValueError("payload must be a JSON object")
    event = make_event(
        user,
        _known("event type", type_, EventType.keys()),
        _known("priority", priority, Priority.keys()),
        _parse_channels(channels),
        payload,
        event_id,
    )
    return event


def _events_from(path: str, limits) -> list:
    """Every line of a JSON-lines file as a UserEvent; exit 2 naming the first bad line."""
    from client import checked_frame
    from proto import FrameError

    text = sys.stdin.read() if path == "-" else _read(path)
    events, seen = [], set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("each line must be a JSON object")
            unknown = set(item) - FIELDS
            if unknown:
                raise ValueError(f"unknown field {sorted(unknown)[0]!r}")
            channels = item.get("channels") or []
            if not isinstance(channels, list):
                raise ValueError("channels must be a list of names")
            event_id = item.get("event_id")
            if event_id is not None and not isinstance(event_id, str):
                raise ValueError("event_id must be a string")
            event = _event(
                str(item.get("user_id", "")),
                str(item.get("event_type", "")),
                str(item.get("priority", "NORMAL")),
                [str(c) for c in channels],
                item.get("payload", {}),
                event_id,
            )
            checked_frame(event, limits)
            if (event.user_id, event.event_id) in seen:
                raise ValueError(f"event_id {event.event_id!r} comes twice")
            seen.add((event.user_id, event.event_id))
        except (ValueError, TypeError, FrameError) as exc:
            typer.echo(f"notify: {path} line {number}: {exc}", err=True)
            raise typer.Exit(2) from exc
        events.append(event)
    if not events:
        typer.echo(f"notify: {path} holds no events", err=True)
        raise typer.Exit(2)
    return events


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"notify: cannot read {path}: {exc}", err=True)
        raise typer.Exit(2) from exc


def _ack_line(ack) -> str:
    from proto import AckStatus, ChannelType

    if ack.status == AckStatus.DELIVERED:
        return f"DELIVERED via {ChannelType.Name(ack.delivered_via)}"
    if ack.status == AckStatus.ACK_ERROR:
        return f"ACK_ERROR: {ack.error_message}"
    return AckStatus.Name(ack.status)


@dataclass
class _Tally:
    """What the acks said, for the summary."""

    final: dict[str, Any] = field(default_factory=dict)
    informational: int = 0
    #: INFORMATIONAL events dropped by the client, by reason (client.DROP_REASONS).
    dropped: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    @property
    def informational_dropped(self) -> int:
        return sum(self.dropped.values())

    def settled(self) -> int:
        return len(self.final) + self.informational + self.refused

    def summary(self, sent: int, elapsed_s: float) -> list[str]:
        from proto import AckStatus, ChannelType

        via = Counter(
            ChannelType.Name(a.delivered_via)
            for a in self.final.values()
            if a.status == AckStatus.DELIVERED
        )
        errors = Counter(
            a.error_message for a in self.final.values() if a.status == AckStatus.ACK_ERROR
        )
        waiting = sent - self.settled()
        lines = [f"sent {sent} in {elapsed_s:.1f}s"]
        if via:
            channels = ", ".join(f"{name} {n}" for name, n in via.most_common())
            lines.append(f"DELIVERED {sum(via.values())} ({channels})")
        if errors:
            lines.append(f"ACK_ERROR {sum(errors.values())}")
            lines += [f"  {n} x {reason}" for reason, n in errors.most_common(5)]
        if sent_informational := self.informational - self.informational_dropped:
            lines.append(f"INFORMATIONAL {sent_informational} (sent, no ack)")
        for reason, count in self.dropped.items():
            if count:
                lines.append(f"INFORMATIONAL {count} dropped: {DROPPED_BECAUSE[reason]}")
        if self.refused:
            lines.append(f"refused by the client {self.refused}")
        if waiting:
            lines.append(f"no final ack {waiting}")
        return lines


def send(
    user: Annotated[str | None, typer.Option(help="User id.")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="EventType name, e.g. ORDER_FILLED.")
    ] = None,
    priority: Annotated[str, typer.Option(help="INFORMATIONAL, NORMAL or CRITICAL.")] = "NORMAL",
    channel: Annotated[
        list[str] | None,
        typer.Option(help="Channel in order (repeatable); NAME:active sets only_if_active."),
    ] = None,
    payload: Annotated[str, typer.Option(help="JSON object.")] = "{}",
    event_id: Annotated[str | None, typer.Option(help="Event id (default: a new UUID).")] = None,
    events: Annotated[
        str | None,
        typer.Option(
            help="A JSON-lines file of events (- for stdin) instead of one event: one JSON "
            "object per line, with user_id, event_type and optionally priority (NORMAL), "
            "channels (NAME or NAME:active), payload (an object) and event_id (a new UUID)."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for the final acks (default: the events' deadline or TTL)."
        ),
    ] = None,
) -> None:
    """Send one event (or a file of them) through the ingress and print the acks as they arrive.

    Exit status: 0 every event DELIVERED (or INFORMATIONAL and sent), 1 an ACK_ERROR, 2 a
    timeout, an INFORMATIONAL event dropped, or bad usage. The ingress is NOTIFY_CLIENT_INGRESS
    when set (comma-separated addresses, tried in order), else the settings' router address.

    \b
    Examples:
      notify send --user alice --type ORDER_FILLED --priority CRITICAL --channel DISCORD --channel SLACK
      notify send --user alice --type ALERT_TRIGGERED --channel WEB --channel TELEGRAM:active
      notify send --events fills.jsonl

    \b
    A line of fills.jsonl (one JSON object per line; only user_id and event_type are required):
      {"user_id": "alice", "event_type": "ORDER_FILLED", "priority": "CRITICAL", "channels": ["TELEGRAM", "EMAIL:active"], "payload": {"symbol": "BTC/USDT", "fill_price": "50000"}, "event_id": "fill-1"}
    """
    from client import checked_frame
    from proto import FrameError, Limits

    settings = settings_or_exit()
    limits = Limits(settings.max_payload_bytes, settings.max_frame_bytes)
    if events is not None:
        if user is not None or type_ is not None:
            typer.echo("notify: give --events, or --user and --type, not both", err=True)
            raise typer.Exit(2)
        batch = _events_from(events, limits)
    else:
        if user is None or type_ is None:
            typer.echo("notify: give --user and --type (or --events FILE)", err=True)
            raise typer.Exit(2)
        try:
            body = json.loads(payload)
            if not isinstance(body, dict):
                raise ValueError("--payload must be a JSON object")
            batch = [_event(user, type_, priority, channel or [], body, event_id)]
            checked_frame(batch[0], limits)
        except json.JSONDecodeError as exc:
            typer.echo(f"notify: --payload is not JSON: {exc}", err=True)
            raise typer.Exit(2) from exc
        except (ValueError, TypeError, FrameError) as exc:
            typer.echo(f"notify: {exc}", err=True)
            raise typer.Exit(2) from exc
    raise typer.Exit(_send_all(settings, limits, batch, timeout, single=events is None))


def _send_all(settings, limits, batch: list, timeout: float | None, single: bool) -> int:
    """Send, print acks as they come, summarize; the exit status."""
    from rich.console import Console
    from rich.progress import Progress

    from client import DROP_REASONS, ClientOptions, CurveKeys, NotifyClient, connection_from_env
    from proto import AckStatus, FrameError, Priority

    options = ClientOptions(
        critical_deadline_s=settings.critical_deadline_s,
        normal_ttl_s=settings.normal_ttl_s,
        max_in_flight=max(len(batch), 1),
        limits=limits,
        # A command just started connects as it sends: on a loaded machine the first
        # handshake can take longer than a long-lived container's second.
        informational_hold_s=CONNECT_WAIT_S,
    )
    if timeout is None:
        timeout = max(options.give_up_s(e.delivery.priority) for e in batch)
    heard: queue.SimpleQueue = queue.SimpleQueue()
    tally = _Tally()
    console = Console(highlight=False, soft_wrap=True)
    show_bar = not single and len(batch) > PROGRESS_FROM and console.is_terminal
    started = time.monotonic()
    # The container client's own reading of NOTIFY_CLIENT_INGRESS, when it is set.
    addresses = (
        connection_from_env()[0]
        if os.environ.get("NOTIFY_CLIENT_INGRESS", "").strip(" ,")
        else settings.router_connect
    )
    client = NotifyClient(addresses, curve=CurveKeys.from_settings(settings), options=options)
    try:
        with Progress(console=console, transient=True, disable=not show_bar) as progress:
            bar = progress.add_task("final acks", total=len(batch))
            for event in batch:
                try:
                    client.send(event, on_ack=heard.put)
                except FrameError as exc:
                    console.print(f"{event.event_id} refused: {exc}", markup=False)
                    tally.refused += 1
                    progress.advance(bar)
                    continue
                if event.delivery.priority == Priority.INFORMATIONAL:
                    tally.informational += 1
                    progress.advance(bar)
            deadline = started + timeout
            last: dict[str, str] = {}
            while tally.settled() < len(batch):
                try:
                    ack = heard.get(timeout=max(0.0, min(0.2, deadline - time.monotonic())))
                except queue.Empty:
                    if time.monotonic() >= deadline:
                        break
                    continue
                line = _ack_line(ack)
                if last.get(ack.event_id) != line:  # a replayed QUEUED is said once
                    last[ack.event_id] = line
                    console.print(line if single else f"{ack.event_id} {line}", markup=False)
                if ack.status != AckStatus.QUEUED and ack.event_id not in tally.final:
                    tally.final[ack.event_id] = ack
                    progress.advance(bar)
            _wait_for_informational(client, tally.informational, deadline)
    finally:
        client.close(timeout=0)
    stats = client.stats()
    tally.dropped = {r: getattr(stats, f"informational_dropped_{r}") for r in DROP_REASONS}
    if single:
        return _single_status(batch[0], tally, timeout)
    for line in tally.summary(len(batch), time.monotonic() - started):
        typer.echo(line)
    if tally.settled() < len(batch) or tally.refused or tally.informational_dropped:
        return 2
    return 1 if any(a.status == AckStatus.ACK_ERROR for a in tally.final.values()) else 0


def _wait_for_informational(client, count: int, deadline: float) -> None:
    """Until the client has handed every INFORMATIONAL event to ZMQ (or dropped it)."""
    while count and time.monotonic() < deadline:
        stats = client.stats()
        if stats.informational_sent + stats.informational_dropped >= count:
            return
        time.sleep(0.01)


def _single_status(event, tally: _Tally, timeout: float) -> int:
    from proto import AckStatus

    if tally.informational:
        if tally.informational_dropped:
            [reason] = [DROPPED_BECAUSE[r] for r, n in tally.dropped.items() if n]
            typer.echo(f"dropped: {reason} (INFORMATIONAL is never resent)", err=True)
            return 2
        typer.echo("sent (INFORMATIONAL: no ack)")
        return 0
    ack = tally.final.get(event.event_id)
    if ack is None:
        typer.echo(f"timeout: no final ack for {event.event_id} within {timeout:g}s", err=True)
        return 2
    return 0 if ack.status == AckStatus.DELIVERED else 1
