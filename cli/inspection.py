"""`notify stats` and `notify log`: what is in flight, and one event's story."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["delivery_log", "stats"]


def stats() -> None:
    """Print the events in flight (open, per priority, and the oldest's age) and the due set.

    \b
    Example:
      notify stats
    """
    import time

    store = store_or_exit(settings_or_exit())
    now = time.time()
    for priority, (count, oldest) in store.claims.open_counts().items():
        age = f"{now - oldest:.1f}s" if oldest is not None else "-"
        typer.echo(f"open {priority:8} {count:8d}   oldest received {age} ago")
    due_at = store.due.oldest()
    if due_at is None:
        when = "-"
    else:
        when = f"{now - due_at:.1f}s ago" if due_at <= now else f"in {due_at - now:.1f}s"
    typer.echo(f"due set       {store.due.count():8d}   earliest due {when}")


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
