"""`python -m ingress` / `notify-ingress`: run one ingress replica in the foreground."""

from __future__ import annotations

import sys

from logsetup import configure_logging
from settings import Settings

from .server import Ingress


def main() -> int:
    configure_logging()
    try:
        settings = Settings()
    except Exception as exc:  # a bad variable: one readable line, no traceback
        print(f"notify-ingress: bad configuration: {exc}", file=sys.stderr)
        return 2
    ingress = Ingress(settings)
    ingress.install_signal_handlers()
    ingress.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
