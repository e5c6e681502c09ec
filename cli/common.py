"""What every command shares: the settings and the store, or one readable line and an exit code."""

from __future__ import annotations

from pathlib import Path

import typer

from settings import Settings, load_settings

__all__ = ["ROOT", "settings_or_exit", "store_or_exit"]

#: The repository (or installed tree) root: where the Procfile is and children run.
ROOT = Path(__file__).resolve().parent.parent


def settings_or_exit() -> Settings:
    """The settings, or exit 2 with one line naming the variable and what is wrong."""
    return load_settings("notify")


def store_or_exit(settings: Settings):
    """The store, or exit 1 when no Redis answers."""
    from store import Store, redis_answers

    if not redis_answers(settings.redis_url):
        typer.echo(
            f"notify: no Redis answers at {settings.redis_url} (start the stack with `notify up`)",
            err=True,
        )
        raise typer.Exit(1)
    return Store(settings.redis_url, settings.key_prefix)
