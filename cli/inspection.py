"""`notify stats` and `notify log`: what the pipeline holds now, and one event's attempts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["alive", "delivery_log", "stats"]


def stats(
    watch: Annotated[bool, typer.Option(help="Refresh until Ctrl-C.")] = False,
    every: Annotated[float, typer.Option(help="Seconds between refreshes with --watch.")] = 2.0,
) -> None:
    """Print what the pipeline holds now: events open per priority (and the oldest's age), the
    due set (its size, its oldest entry, and what its entries wait for), the broker's queues per
    channel and priority, attempts running and retrying, and every worker, scheduler and
    Telegram bot, live, stale or dead.

    \b
    Examples:
      notify stats
      notify stats --watch --every 5
    """
    import time

    settings = settings_or_exit()
    store = store_or_exit(settings)
    while True:
        lines = _stats_lines(store)
        if watch and sys.stdout.isatty():
            typer.echo("\x1b[2J\x1b[H", nl=False)  # a fresh screen each time
        typer.echo("\n".join(lines))
        if not watch:
            return
        try:
            time.sleep(every)
        except KeyboardInterrupt:
            return
        if not sys.stdout.isatty():
            typer.echo("")


def _stats_lines(store) -> list[str]:
    import time

    from store import DEAD_AFTER_S, STALE_AFTER_S
    from tasks.queues import ALL_QUEUES, CHANNEL_QUEUES, queue_depths

    now = time.time()
    lines = [time.strftime("%Y-%m-%d %H:%M:%S")]
    for priority, (count, oldest) in store.claims.open_counts().items():
        age = f"{now - oldest:.1f}s" if oldest is not None else "-"
        lines.append(f"open {priority:8} {count:8d}   oldest received {age} ago")
    waiting = _due_kinds(store)
    due_at, due_count = store.due.oldest(), store.due.count()
    when = "-" if due_at is None else (
        f"overdue by {now - due_at:.1f}s" if due_at <= now else f"due in {due_at - now:.1f}s"
    )  # fmt: skip
    lines.append(f"due set       {due_count:8d}   oldest entry {when}")
    sampled = f" (of the earliest {DUE_SAMPLE})" if due_count > DUE_SAMPLE else ""
    lines.append(
        "              "
        + ", ".join(f"{count} {what}" for what, count in waiting.items() if what != "retrying")
        + sampled
    )
    try:
        by_queue = queue_depths(ALL_QUEUES)
    except Exception as exc:  # the broker is down: say so, show the rest
        lines.append(f"queues        broker not reachable ({type(exc).__name__})")
    else:
        lines.append(f"queues        {'channel':10} {'critical':>9} {'normal':>9}")
        for channel in CHANNEL_QUEUES:
            critical, normal = by_queue[f"critical.{channel}"], by_queue[f"normal.{channel}"]
            lines.append(f"              {channel:10} {critical:9d} {normal:9d}")
    lines.append(
        f"attempts      {_running_attempts()} running now, {waiting['retrying']} retrying "
        f"(waiting out a backoff or a provider's retry-after){sampled}"
    )
    lines.append(_breaker_line(store, now))
    for kind, seen in sorted(store.liveness.seen(now).items()):
        for name, ago in sorted(seen.items()):
            state = "dead" if ago >= DEAD_AFTER_S else "stale" if ago >= STALE_AFTER_S else "live"
            lines.append(f"{kind:13} {state:5}  {name}  (last beat {ago:.0f}s ago)")
    return lines


#: `notify stats` reads this many of the due set's entries to say what they wait for.
DUE_SAMPLE = 2_000


def _due_kinds(store, sample: int = DUE_SAMPLE) -> dict[str, int]:
    """What the earliest `sample` members of the due set wait for."""
    import json

    from tasks.contract import ParkedLink, due_entry

    kinds = dict.fromkeys(
        (
            "retrying",
            "rounds waiting",
            "held for a digest",
            "waiting for a WEB ack",
            "waiting for a person's ack",
        ),
        0,
    )
    kinds["unreadable"] = 0
    for taken in store.due.earliest(sample):
        try:
            entry = due_entry(json.loads(taken.entry))
        except (ValueError, KeyError, TypeError):
            kinds["unreadable"] += 1
            continue
        if not isinstance(entry, ParkedLink):
            kinds["rounds waiting"] += 1
        elif entry.link.accepted_at is not None:
            kinds["waiting for a person's ack"] += 1
        elif entry.link.sent_at is not None:
            kinds["waiting for a WEB ack"] += 1
        elif (entry.carry.held_until or 0) >= float(taken.lease) - 1:  # parked until the digest
            kinds["held for a digest"] += 1
        else:
            kinds["retrying"] += 1
    if not kinds["unreadable"]:
        del kinds["unreadable"]
    return kinds


def _breaker_line(store, now: float) -> str:
    """Each provider's circuit breaker: closed, open (until when) or half-open."""
    import time

    from channels import CHANNELS

    names = [c.name for c in CHANNELS.values() if c.external]
    shown = []
    for breaker in store.breakers.states(names, now):
        if breaker.state == "open" and breaker.until is not None:
            until = time.strftime("%H:%M:%S", time.localtime(breaker.until))
            shown.append(f"{breaker.channel} open until {until}")
        elif breaker.state != "closed" or breaker.failures:
            shown.append(f"{breaker.channel} {breaker.state} ({breaker.failures} users failing)")
        else:
            shown.append(f"{breaker.channel} closed")
    return "providers     " + ", ".join(shown)


def _running_attempts() -> str:
    """Tasks the live workers are running, asked over the broker (1 s at most)."""
    from tasks import app

    try:
        active = app.control.inspect(timeout=1.0).active() or {}
    except Exception as exc:
        return f"? ({type(exc).__name__})"
    return str(sum(len(tasks) for tasks in active.values()))


def delivery_log(user: Annotated[str, typer.Option(help="User id.")], event_id: str) -> None:
    """Print an event's claim state and every attempt of its delivery log.

    \b
    Example:
      notify log --user alice liq-1
    """
    store = store_or_exit(settings_or_exit())
    claim = store.claims.read(user, event_id)
    if not claim:
        typer.echo(f"notify: no event {event_id!r} for user {user!r}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"state: {claim.get('state')} via={claim.get('delivered_via') or '-'} round={claim.get('round')}"
    )
    if claim.get("error"):
        typer.echo(f"error: {claim['error']}")
    for entry in store.delivery_log.read(user, event_id):
        typer.echo(
            f"  round={entry.get('round')} try={entry.get('try')} {entry.get('channel')}: "
            f"{entry.get('kind')} {entry.get('detail', '')}"
        )


def alive(
    kind: Annotated[str, typer.Argument(help="worker, scheduler or telegram-bot")],
    within: Annotated[float, typer.Option(help="Seconds since its last beat, at most.")] = 30.0,
    name: Annotated[
        str | None,
        typer.Option(help="Part of its name (default: this host's name, as in a container)."),
    ] = None,
) -> None:
    """Exit 0 when a worker (or scheduler, or Telegram bot) of this host beat recently, else 1:
    a health check for docker compose or Kubernetes.

    \b
    Examples:
      notify alive worker
      notify alive scheduler --within 20
      notify alive telegram-bot --within 60
    """
    import socket

    store = store_or_exit(settings_or_exit())
    wanted = name or socket.gethostname()
    seen = store.liveness.seen().get(kind, {})
    fresh = [n for n, ago in seen.items() if wanted in n and ago <= within]
    if not fresh:
        typer.echo(f"notify: no {kind} named like {wanted!r} beat within {within:g}s", err=True)
        raise typer.Exit(1)
    typer.echo(f"{kind} alive: {', '.join(sorted(fresh))}")
