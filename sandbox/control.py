"""The sandbox's own JSON API under ``/_sandbox``: read and clear records, set switches, drive
the Telegram inbox. Control requests are never recorded.

=======================================  =====================================================
``GET /_sandbox/requests[?provider=]``   the records, oldest first
``DELETE /_sandbox/requests``            forget every record
``GET /_sandbox/switches``               ``{provider: switch}``
``POST /_sandbox/switches``              ``{"provider", "mode", "latency_ms"?, "retry_after"?,
                                         "times"?}`` -> the new switch; 400 on a bad value
``DELETE /_sandbox/switches``            every provider back to ok
``POST /_sandbox/telegram/updates``      ``{"chat_id": int, "text": str, "username"?: str}``
                                         -> the queued Update (a user wrote to the bot)
``DELETE /_sandbox/telegram/updates``    drop queued updates and known chats
``POST /_sandbox/telegram/callbacks``    ``{"message_id"?: int, "data"?: str}`` -> the queued
                                         Update (the chat's user pressed an inline button: of
                                         that sent message, default its first; or the newest
                                         message's with that callback data)
=======================================  =====================================================
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import SandboxState

__all__ = ["PREFIX", "routes"]

#: Where the control API lives.
PREFIX = "/_sandbox"


def _error(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def routes(state: SandboxState) -> list[Route]:
    """The control routes over `state`."""

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear_requests()
            return JSONResponse({"cleared": True})
        return JSONResponse(state.requests(request.query_params.get("provider") or None))

    async def switches(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state.switches())
        if request.method == "DELETE":
            state.reset_switches()
            return JSONResponse(state.switches())
        body = await _json_object(request)
        if body is None:
            return _error("expected a JSON object")
        try:
            switch = state.set_switch(
                str(body.get("provider")),
                mode=str(body.get("mode", "ok")),
                latency_ms=int(body.get("latency_ms") or 0),
                retry_after=float(body.get("retry_after", 1.0)),
                times=None if body.get("times") is None else int(body["times"]),
            )
        except (TypeError, ValueError) as exc:
            return _error(str(exc))
        return JSONResponse(switch)

    async def telegram_updates(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear_updates()
            return JSONResponse({"cleared": True})
        body = await _json_object(request)
        if body is None or not isinstance(body.get("text"), str):
            return _error('expected {"chat_id": int, "text": str, "username": str?}')
        try:
            chat_id = int(body["chat_id"])
        except (KeyError, TypeError, ValueError):
            return _error("chat_id must be an integer")
        username = body.get("username")
        update = state.queue_update(chat_id, body["text"], str(username) if username else None)
        return JSONResponse(update)

    async def telegram_callbacks(request: Request) -> Response:
        body = await _json_object(request)
        if body is None:
            return _error('expected {"message_id": int?, "data": str?}')
        message_id, data = body.get("message_id"), body.get("data")
        if message_id is None and data is None:
            return _error("give message_id, data or both")
        try:
            message_id = None if message_id is None else int(message_id)
        except (TypeError, ValueError):
            return _error("message_id must be an integer")
        update = state.queue_callback(message_id, None if data is None else str(data))
        if update is None:
            return _error("no sent message with that inline button")
        return JSONResponse(update)

    return [
        Route(PREFIX + "/requests", requests, methods=["GET", "DELETE"]),
        Route(PREFIX + "/switches", switches, methods=["GET", "POST", "DELETE"]),
        Route(PREFIX + "/telegram/updates", telegram_updates, methods=["POST", "DELETE"]),
        Route(PREFIX + "/telegram/callbacks", telegram_callbacks, methods=["POST"]),
    ]
