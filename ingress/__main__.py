"""`python -m ingress` / `notify-ingress`: run one ingress replica in the foreground."""

from __future__ import annotations

import argparse
import sys

import zmq

from logsetup import configure_logging
from settings import ExposureError, Settings, load_settings, store_answers_or_exit

from .server import Ingress

EXAMPLE = """\
Settings come from NOTIFY_* variables (docs/configuration.md); a bad one stops it with exit 2.

Example:
    NOTIFY_INGRESS_ID=ingress-1 NOTIFY_INGRESS_ROUTER=tcp://127.0.0.1:5571 notify-ingress
"""


def _parser(prog: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=prog,
        description="Run one ingress replica in the foreground: containers' events in on its "
        "ROUTER, live sessions out on its XPUB, until SIGTERM/SIGINT.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _bind_problem(ingress: Ingress) -> str | None:
    """Why ROUTER or XPUB cannot bind (no such host or interface, address in use), or None.

    Tried on throwaway sockets before anything starts, so a bad address is one line at start
    rather than a traceback from the loop."""
    context = zmq.Context()
    probes = []  # both held until both are bound: the same address twice is in use too
    try:
        for name, address in (
            ("NOTIFY_INGRESS_ROUTER", ingress.router_address),
            ("NOTIFY_INGRESS_XPUB", ingress.xpub_address),
        ):
            probes.append(context.socket(zmq.ROUTER))
            try:
                probes[-1].bind(address)
            except zmq.ZMQError as exc:
                return f"cannot bind {name}={address}: {zmq.strerror(exc.errno)}"
        return None
    finally:
        for sock in probes:
            sock.close(linger=0)
        context.term()  # the probe sockets are closed, their ports free again


def main(argv: list[str] | None = None, prog: str = "notify-ingress") -> int:
    _parser(prog).parse_args(argv)
    configure_logging()
    settings: Settings = load_settings("notify-ingress")
    store_answers_or_exit(settings, "notify-ingress")
    try:
        ingress = Ingress(settings)
    except (ExposureError, OSError) as exc:  # protected mode, or an unreadable key file
        print(f"notify-ingress: {exc}", file=sys.stderr)
        return 2
    if problem := _bind_problem(ingress):
        print(f"notify-ingress: {problem}", file=sys.stderr)
        return 2
    ingress.install_signal_handlers()
    ingress.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m ingress"))
