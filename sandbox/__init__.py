"""Local fake provider APIs (Discord and Slack webhooks, Telegram Bot API, SendGrid, FCM v1 with
its OAuth token endpoint) that record every request and have
per-provider latency / 429 / 5xx / permanent-error switches; for tests and the local stack.

Start one with ``with SandboxServer() as sandbox: ...`` (tests; ``sandbox.url``, ``sandbox.state``)
or ``run(host, port)`` (foreground, default 127.0.0.1:8590). Steer a running one from another
process with `list_requests`, `set_switch`, `reset`.
"""

from .addresses import (
    discord_webhook_url,
    fcm_endpoint,
    sendgrid_host,
    slack_webhook_url,
    telegram_api_url,
)
from .app import build_app
from .client import (
    inject_telegram_message,
    list_requests,
    press_telegram_button,
    reset,
    set_switch,
)
from .credentials import PROJECT_ID, service_account_file
from .server import DEFAULT_HOST, DEFAULT_PORT, SandboxServer, run
from .state import MODES, PROVIDERS, SandboxState
from .telegram import UNKNOWN_CHAT_ID

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MODES",
    "PROJECT_ID",
    "PROVIDERS",
    "UNKNOWN_CHAT_ID",
    "SandboxServer",
    "SandboxState",
    "build_app",
    "discord_webhook_url",
    "fcm_endpoint",
    "inject_telegram_message",
    "press_telegram_button",
    "list_requests",
    "reset",
    "run",
    "sendgrid_host",
    "service_account_file",
    "set_switch",
    "slack_webhook_url",
    "telegram_api_url",
]
