"""`python -m telegram_bot`: run the Telegram bot in the foreground."""

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m telegram_bot"))
