"""The Telegram bot process: links accounts by `/start <token>` and marks chats active.

`python -m telegram_bot` long-polls the Bot API (`getUpdates`) at `NOTIFY_TELEGRAM_API_URL`
with `NOTIFY_TELEGRAM_TOKEN` and stops cleanly on SIGTERM / SIGINT. `create_link` gives the
deep link a user opens to link their chat; `run_bot` runs the loop in-process until an event is set.
"""

from .bot import INVALID_REPLY, LINKED_REPLY, BotError, handle_message, run_bot
from .linking import LinkError, create_link, link_url
from .main import main

__all__ = [
    "INVALID_REPLY",
    "LINKED_REPLY",
    "BotError",
    "LinkError",
    "create_link",
    "handle_message",
    "link_url",
    "main",
    "run_bot",
]
