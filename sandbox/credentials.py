"""A Google service-account file that points at the sandbox, so FCM clients (pyfcm via
google-auth) fetch their OAuth token from ``<sandbox>/oauth/token`` instead of Google.

The packaged ``service_account.json`` holds a throwaway RSA key made for this sandbox only; it
grants nothing anywhere. Its ``token_uri`` is a placeholder that `service_account_file` rewrites.
"""

from __future__ import annotations

import json
from pathlib import Path

from .oauth import PATH as TOKEN_PATH

__all__ = ["PROJECT_ID", "TEMPLATE", "service_account_file"]

#: The packaged service-account template.
TEMPLATE = Path(__file__).with_name("service_account.json")
#: The FCM project every sandbox service account belongs to.
PROJECT_ID = "notify-sandbox"
#: The file name `service_account_file` writes in its directory.
FILE_NAME = "notify-sandbox-service-account.json"


def service_account_file(base_url: str, directory: str | Path) -> Path:
    """Write the sandbox service account, with ``token_uri = <base_url>/oauth/token`` and
    ``project_id = "notify-sandbox"``, into `directory` (created if missing); returns its path."""
    info = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    info["token_uri"] = base_url.rstrip("/") + TOKEN_PATH
    info["project_id"] = PROJECT_ID
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path
