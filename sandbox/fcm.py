"""Firebase Cloud Messaging HTTP v1 ``messages:send``, answered as FCM does.

Endpoint: ``POST /fcm/v1/projects/{project}/messages:send`` with ``Authorization: Bearer <any>``
(get one from ``POST /oauth/token``, see sandbox.oauth). Clients use the API root
``<sandbox>/fcm`` (pyfcm: ``FCM_END_POINT_BASE = <root>/v1/projects``). Answers (errors are
``{"error": {"code", "message", "status", "details": [{"@type": FCM_ERROR_TYPE, "errorCode"}]}}``):

===========================  ==========================================================
ok                           200 ``{"name": "projects/<project>/messages/<id>"}``
no Bearer token              401 UNAUTHENTICATED
token ``unregistered...``    404 NOT_FOUND, errorCode UNREGISTERED
token ``invalid...``, or no  400 INVALID_ARGUMENT, errorCode INVALID_ARGUMENT
  token / topic / condition
rate_limit                   429 RESOURCE_EXHAUSTED, errorCode QUOTA_EXCEEDED, ``Retry-After``
                             (whole seconds, rounded up)
server_error                 500 INTERNAL, errorCode INTERNAL
permanent                    403 PERMISSION_DENIED, errorCode SENDER_ID_MISMATCH
===========================  ==========================================================
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Incoming, endpoint, retry_after_seconds
from .state import SandboxState

__all__ = ["FCM_ERROR_TYPE", "PREFIX", "routes"]

#: The API root on the sandbox (NOTIFY_FCM_ENDPOINT).
PREFIX = "/fcm"
#: The @type of FCM's error detail.
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def _error(
    code: int, status: str, message: str, error_code: str | None, headers: dict | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if error_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    return JSONResponse({"error": error}, status_code=code, headers=headers)


def _invalid(message: str) -> JSONResponse:
    return _error(400, "INVALID_ARGUMENT", message, "INVALID_ARGUMENT")


def _check_message(payload: Any) -> JSONResponse | None:
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        return _invalid("Request contains an invalid argument: message is required.")
    targets = [k for k in ("token", "topic", "condition") if message.get(k)]
    if len(targets) != 1:
        return _invalid("Exactly one of token, topic or condition must be specified.")
    token = str(message.get("token") or "")
    if token.startswith("unregistered"):
        return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
    if token.startswith("invalid"):
        return _invalid("The registration token is not a valid FCM registration token")
    return None


def routes(state: SandboxState) -> list[Route]:
    """The messages:send route, recording into `state`."""

    async def handle(incoming: Incoming) -> Response:
        switch = incoming.switch
        if incoming.mode == "rate_limit":
            headers = {"Retry-After": str(retry_after_seconds(switch))}
            message = "Quota exceeded for the sending project."
            return _error(429, "RESOURCE_EXHAUSTED", message, "QUOTA_EXCEEDED", headers)
        if incoming.mode == "server_error":
            return _error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
        if incoming.mode == "permanent":
            message = "SenderId mismatch"
            return _error(403, "PERMISSION_DENIED", message, "SENDER_ID_MISMATCH")
        authorization = incoming.request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            message = "Request is missing required authentication credential."
            return _error(401, "UNAUTHENTICATED", message, None)
        problem = _check_message(incoming.json)
        if problem is not None:
            return problem
        project = incoming.request.path_params["project"]
        return JSONResponse({"name": f"projects/{project}/messages/{state.next_message_id()}"})

    return [
        Route(
            PREFIX + "/v1/projects/{project}/messages:send",
            endpoint(state, "fcm", handle),
            methods=["POST"],
        )
    ]
