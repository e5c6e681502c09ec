"""`python -m telegram_bot` / `notify telegram-bot`: the bot in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from logsetup import configure_logging
from settings import load_settings, store_answers_or_exit

from .bot import BotError, run_bot

__all__ = ["main"]

log = logging.getLogger(__name__)


EXAMPLE = """\
Settings: NOTIFY_TELEGRAM_TOKEN (required, unless NOTIFY_CHANNELS_OFF lists TELEGRAM),
NOTIFY_TELEGRAM_API_URL, NOTIFY_REDIS_URL (docs/configuration.md).

Example:
    NOTIFY_TELEGRAM_TOKEN=123456:ABC python -m telegram_bot
"""


def main(argv: list[str] | None = None, prog: str = "notify telegram-bot") -> int:
    """Run the bot; 0 after a clean stop (or when Telegram is turned off), 2 on bad
    configuration or a rejected token."""
    argparse.ArgumentParser(
        prog=prog,
        description="Run the Telegram bot in the foreground: long-polls getUpdates, links chats "
        "on /start <token>, marks chats active, records 'Got it' presses; until SIGTERM/SIGINT.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    configure_logging()
    settings = load_settings("notify telegram-bot")
    if "TELEGRAM" in settings.channels_off_names:
        print(
            "notify telegram-bot: TELEGRAM is in NOTIFY_CHANNELS_OFF: not starting", file=sys.stderr
        )
        return 0
    if not settings.telegram_token:
        print(
            "notify telegram-bot: bad configuration: NOTIFY_TELEGRAM_TOKEN is unset "
            "(set it, or list TELEGRAM in NOTIFY_CHANNELS_OFF to turn the channel off)",
            file=sys.stderr,
        )
        return 2
    store_answers_or_exit(settings, "notify telegram-bot")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("telegram_bot stopping signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        run_bot(settings, stop)
    except BotError as exc:
        log.error("telegram_bot cannot run: %s", exc)
        return 2
    return 0
