"""Assemble the sandbox's Starlette app: every provider's routes plus the control API, all
recording into one `SandboxState`.

URL layout (each provider module's docstring has its answers and error shapes)::

    GET  /                                              the "what would have been sent" page
    POST /discord/api/webhooks/{webhook_id}/{token}     Discord incoming webhook
    POST /slack/services/{a}/{b}/{c}                    Slack incoming webhook
    GET|POST /telegram/bot{token}/{method}              Telegram Bot API
    POST /sendgrid/v3/mail/send                         SendGrid v3 Mail Send
    POST /fcm/v1/projects/{project}/messages:send       FCM HTTP v1
    POST /oauth/token                                   OAuth2 token (service accounts)
    /_sandbox/...                                       control API (sandbox.control)
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from . import control, discord, fcm, oauth, page, sendgrid, slack, telegram
from .state import PROVIDERS, SandboxState

__all__ = ["PROVIDER_ROUTES", "build_app"]

#: Each provider of `PROVIDERS` (the channels' `sandbox` names, and oauth) -> its routes.
PROVIDER_ROUTES: dict[str, Callable[[SandboxState], list[BaseRoute]]] = {
    "telegram": telegram.routes,
    "sendgrid": sendgrid.routes,
    "fcm": fcm.routes,
    "oauth": oauth.routes,
    "discord": discord.routes,
    "slack": slack.routes,
}


def build_app(state: SandboxState | None = None) -> Starlette:
    """The sandbox app over `state` (a fresh one when None); the state is `app.state.sandbox`."""
    state = state if state is not None else SandboxState()
    routes: list[BaseRoute] = [*page.routes(state), *control.routes(state)]
    for provider in PROVIDERS:
        routes.extend(PROVIDER_ROUTES[provider](state))
    app = Starlette(routes=routes)
    app.state.sandbox = state
    return app
