"""`python -m telegram_bot` / `notify telegram-bot`: the bot in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from logsetup import configure_logging
from settings import load_settings

from .bot import BotError, run_bot

__all__ = ["main"]

log = logging.getLogger(__name__)


def main() -> int:
    """Run the bot; 0 after a clean stop, 2 on bad configuration or a rejected token."""
    configure_logging()
    settings = load_settings("notify telegram-bot")
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
