"""The long-running processes, each in the foreground: `scheduler`, `ingress`, `telegram-bot`."""

from __future__ import annotations

import threading

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["ingress", "scheduler", "telegram_bot"]


def scheduler() -> None:
    """Publish CRITICAL rounds when they come due, and restart rounds whose chain went quiet.

    \b
    Example:
      notify scheduler          # several may run at once
    """
    import signal

    from logsetup import configure_logging
    from tasks.scheduler import run_scheduler

    configure_logging()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    settings = settings_or_exit()
    from settings import store_answers_or_exit
    from tasks.startup import warn_unless_durable

    store_answers_or_exit(settings, "notify scheduler")

    warn_unless_durable(settings, "scheduler")
    run_scheduler(store_or_exit(settings), settings, stop)


def ingress() -> None:
    """Run one ingress replica in the foreground (same as `python -m ingress`).

    \b
    Example:
      NOTIFY_INGRESS_ID=ingress-1 notify ingress
    """
    from ingress.__main__ import main as ingress_main

    raise typer.Exit(ingress_main([]))


def telegram_bot() -> None:
    """Run the Telegram bot: long-polls getUpdates, links chats on /start <token>, marks chats active.

    \b
    Example:
      NOTIFY_TELEGRAM_TOKEN=123456:ABC notify telegram-bot
    """
    from telegram_bot import main as bot_main

    raise typer.Exit(bot_main([]))
