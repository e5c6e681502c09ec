"""`python -m ingress` / `notify-ingress`: run one ingress replica in the foreground."""

from __future__ import annotations

import sys

from logsetup import configure_logging
from settings import ExposureError, load_settings

from .server import Ingress


def main() -> int:
    configure_logging()
    settings = load_settings("notify-ingress")
    try:
        ingress = Ingress(settings)
    except (ExposureError, OSError) as exc:  # protected mode, or an unreadable key file
        print(f"notify-ingress: {exc}", file=sys.stderr)
        return 2
    ingress.install_signal_handlers()
    ingress.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
