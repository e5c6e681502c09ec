"""`python -m sessions [--host HOST] [--port PORT]`: run the session server in the foreground."""

from __future__ import annotations

import argparse
import sys

from logsetup import configure_logging
from settings import load_settings

from .server import DEFAULT_HOST, DEFAULT_PORT, run

EXAMPLE = """\
Settings come from NOTIFY_* variables (docs/configuration.md); a bad one stops it with exit 2.

Example:
    python -m sessions --port 8570
    notify sessions token alice   # then open the link it prints
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sessions",
        description="Run the session server in the foreground: WebSocket at /ws?token=..., the "
        "notifications page at /, fed by the ingress XPUB(s); until SIGTERM/SIGINT.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on; * = every interface with a subscriber key, else loopback "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    configure_logging()
    return run(load_settings("notify sessions"), args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
