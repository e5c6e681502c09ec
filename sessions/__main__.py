"""`python -m sessions [--host HOST] [--port PORT]`: run the session server in the foreground."""

from __future__ import annotations

import argparse
import sys

from logsetup import configure_logging
from settings import Settings

from .server import DEFAULT_HOST, DEFAULT_PORT, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sessions", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = Settings()
    except Exception as exc:  # a bad variable: one readable line, no traceback
        print(f"notify sessions: bad configuration: {exc}", file=sys.stderr)
        return 2
    return run(settings, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
