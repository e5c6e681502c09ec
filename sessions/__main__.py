"""`python -m sessions [--host HOST] [--port PORT]`: run the session server in the foreground."""

from __future__ import annotations

import argparse
import sys

from logsetup import configure_logging
from settings import load_settings

from .server import DEFAULT_HOST, DEFAULT_PORT, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sessions", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    configure_logging()
    return run(load_settings("notify sessions"), args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
