"""Slack incoming webhooks, as Slack answers them (plain-text bodies).

Endpoint: ``POST /slack/services/{a}/{b}/{c}`` (a JSON body, or a form with ``payload=<json>``).
Answers:

==================  ================================================================
ok                  200 ``ok``
no text, no blocks  400 ``no_text``;  a body that is not JSON: 400 ``invalid_payload``
rate_limit          429 ``rate_limited`` and ``Retry-After`` (whole seconds, rounded up)
server_error        500 ``internal_error``
permanent           404 ``no_service``
==================  ================================================================
"""

from __future__ import annotations

import json

from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .recording import Incoming, endpoint, retry_after_seconds
from .state import SandboxState

__all__ = ["PREFIX", "routes"]

#: Where the webhooks live on the sandbox; a webhook URL is PREFIX + "/{a}/{b}/{c}".
PREFIX = "/slack/services"


def routes(state: SandboxState) -> list[Route]:
    """The Slack webhook route, recording into `state`."""

    async def handle(incoming: Incoming) -> Response:
        if incoming.mode == "rate_limit":
            headers = {"Retry-After": str(retry_after_seconds(incoming.switch))}
            return PlainTextResponse("rate_limited", status_code=429, headers=headers)
        if incoming.mode == "server_error":
            return PlainTextResponse("internal_error", status_code=500)
        if incoming.mode == "permanent":
            return PlainTextResponse("no_service", status_code=404)
        payload = incoming.json
        if isinstance(payload, dict) and isinstance(payload.get("payload"), str):
            try:
                payload = json.loads(payload["payload"])
            except ValueError:
                payload = None
        if not isinstance(payload, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        if not payload.get("text") and not payload.get("blocks"):
            return PlainTextResponse("no_text", status_code=400)
        return PlainTextResponse("ok", status_code=200)

    return [Route(PREFIX + "/{a}/{b}/{c}", endpoint(state, "slack", handle), methods=["POST"])]
