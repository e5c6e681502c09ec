"""`python -m ingress` / `notify-ingress`: run one ingress replica in the foreground."""

from __future__ import annotations

import sys

from logsetup import configure_logging
from settings import ExposureError, Settings

from .server import Ingress


def main() -> int:
    configure_logging()
    try:
        settings = Settings()
    except Exception as exc:  # a bad variable: one readable line, no traceback
        print(f"notify-ingress: bad configuration: {exc}", file=sys.stderr)
        return 2
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
