"""Provider addresses on a sandbox: webhook URLs to put in the subscriber directory, and the API
roots to give the channels' settings. `base_url` is the sandbox root, e.g. http://127.0.0.1:8590.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "discord_webhook_url",
    "fcm_endpoint",
    "sendgrid_host",
    "slack_webhook_url",
    "telegram_api_url",
]


def _digits(name: str, size: int) -> str:
    return str(int(hashlib.sha256(name.encode()).hexdigest(), 16))[:size]


def _token(name: str, size: int) -> str:
    return hashlib.sha256(("token:" + name).encode()).hexdigest()[:size]


def discord_webhook_url(base_url: str, name: str = "walkthrough") -> str:
    """A valid Discord webhook URL on the sandbox, the same for the same `name`."""
    return f"{base_url.rstrip('/')}/discord/api/webhooks/{_digits(name, 18)}/{_token(name, 68)}"


def slack_webhook_url(base_url: str, name: str = "walkthrough") -> str:
    """A valid Slack webhook URL on the sandbox, the same for the same `name`."""
    team = "T" + _token("team:" + name, 10).upper()
    bot = "B" + _token("bot:" + name, 10).upper()
    return f"{base_url.rstrip('/')}/slack/services/{team}/{bot}/{_token(name, 24)}"


def telegram_api_url(base_url: str) -> str:
    """The Bot API root on the sandbox (NOTIFY_TELEGRAM_API_URL; PTB's base_url is this + /bot)."""
    return base_url.rstrip("/") + "/telegram"


def sendgrid_host(base_url: str) -> str:
    """The SendGrid API root on the sandbox (NOTIFY_SENDGRID_HOST)."""
    return base_url.rstrip("/") + "/sendgrid"


def fcm_endpoint(base_url: str) -> str:
    """The FCM API root on the sandbox (NOTIFY_FCM_ENDPOINT)."""
    return base_url.rstrip("/") + "/fcm"
