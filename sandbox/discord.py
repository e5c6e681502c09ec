"""Discord incoming webhooks, as Discord answers them.

Endpoint: ``POST /discord/api/webhooks/{webhook_id}/{token}`` (JSON body; ``?wait=true`` asks for
the created message back). Answers:

=============  ==========================================================================
ok             204 empty, or 200 with a message object when ``?wait=true``
empty message  400 ``{"message": "Cannot send an empty message", "code": 50006}``
rate_limit     429 ``{"message": "You are being rate limited.", "retry_after": <float>,
               "global": false}`` and ``Retry-After`` (whole seconds, rounded up)
server_error   500 ``{"message": "Internal Server Error", "code": 0}``
permanent      404 ``{"message": "Unknown Webhook", "code": 10015}``
=============  ==========================================================================
"""

from __future__ import annotations

import datetime as dt

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Incoming, endpoint, retry_after_seconds
from .state import SandboxState

__all__ = ["PREFIX", "routes"]

#: Where the webhooks live on the sandbox; a webhook URL is PREFIX + "/{id}/{token}".
PREFIX = "/discord/api/webhooks"


def routes(state: SandboxState) -> list[Route]:
    """The Discord webhook route, recording into `state`."""

    async def handle(incoming: Incoming) -> Response:
        switch = incoming.switch
        if incoming.mode == "rate_limit":
            body = {
                "message": "You are being rate limited.",
                "retry_after": float(switch["retry_after"]),
                "global": False,
            }
            headers = {"Retry-After": str(retry_after_seconds(switch))}
            return JSONResponse(body, status_code=429, headers=headers)
        if incoming.mode == "server_error":
            return JSONResponse({"message": "Internal Server Error", "code": 0}, status_code=500)
        if incoming.mode == "permanent":
            return JSONResponse({"message": "Unknown Webhook", "code": 10015}, status_code=404)
        payload = incoming.json if isinstance(incoming.json, dict) else {}
        if not payload.get("content") and not payload.get("embeds"):
            body = {"message": "Cannot send an empty message", "code": 50006}
            return JSONResponse(body, status_code=400)
        if incoming.request.query_params.get("wait", "").lower() != "true":
            return Response(status_code=204)
        webhook_id = incoming.request.path_params["webhook_id"]
        message = {
            "id": str(1_000_000_000_000_000 + state.next_message_id()),
            "type": 0,
            "channel_id": "100000000000000001",
            "webhook_id": webhook_id,
            "author": {"id": webhook_id, "username": payload.get("username") or "Sandbox"},
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        }
        return JSONResponse(message, status_code=200)

    return [
        Route(
            PREFIX + "/{webhook_id}/{token}",
            endpoint(state, "discord", handle),
            methods=["POST"],
        )
    ]
