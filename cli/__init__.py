"""`notify …`: run the local stack, manage the subscriber directory, send events, inspect deliveries.

\b
Examples:
  notify up                # Redis (embedded if none), ingress, worker, sandbox, ...
  notify user set alice --discord-webhook http://127.0.0.1:8590/discord/api/webhooks/1/demo
  notify send --user alice --type ORDER_FILLED --priority CRITICAL --channel DISCORD
  notify trace EVENT_ID    # one event's story, step by step, with times
"""

from __future__ import annotations

import typer

from . import demo, inspection, sending, stack, trace, up
from .directory import user_app
from .keyring import keys_app
from .provider_sandbox import sandbox_app
from .web_sessions import sessions_app

__all__ = ["app", "main"]

app = typer.Typer(
    help=__doc__, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False
)
app.command()(up.up)
app.command()(stack.scheduler)
app.command()(stack.ingress)
app.command("telegram-bot")(stack.telegram_bot)
app.command()(sending.send)
app.command()(inspection.stats)
app.command("log")(inspection.delivery_log)
app.command()(inspection.alive)
app.command()(trace.trace)
app.command()(demo.demo)
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(sessions_app, name="sessions")


def main() -> None:
    app(prog_name="notify")
