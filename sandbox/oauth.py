"""Google's OAuth2 token endpoint for service accounts, so FCM clients can get a Bearer token.

Endpoint: ``POST /oauth/token`` with the form ``grant_type=urn:ietf:params:oauth:grant-type:
jwt-bearer&assertion=<JWT>`` (what google-auth sends to a service account's ``token_uri``; see
sandbox.credentials). The JWT is not verified. Answers:

============  ==================================================================
ok            200 ``{"access_token": "sandbox-token", "expires_in": 3600, "token_type":
              "Bearer"}``
bad request   400 ``{"error": "unsupported_grant_type" | "invalid_request", ...}``
rate_limit    429 ``{"error": "rate_limit_exceeded"}`` and ``Retry-After``
server_error  500 ``{"error": "internal_failure"}``
permanent     400 ``{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}``
============  ==================================================================
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Incoming, endpoint, retry_after_seconds
from .state import SandboxState

__all__ = ["ACCESS_TOKEN", "JWT_BEARER", "PATH", "routes"]

#: The token endpoint on the sandbox (a service account's token_uri).
PATH = "/oauth/token"
#: The grant type a service account uses.
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The access token every successful request gets.
ACCESS_TOKEN = "sandbox-token"


def _error(status: int, error: str, description: str, headers: dict | None = None) -> Response:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)


def routes(state: SandboxState) -> list[Route]:
    """The token route, recording into `state`."""

    async def handle(incoming: Incoming) -> Response:
        if incoming.mode == "rate_limit":
            headers = {"Retry-After": str(retry_after_seconds(incoming.switch))}
            return _error(429, "rate_limit_exceeded", "Too many requests.", headers)
        if incoming.mode == "server_error":
            return _error(500, "internal_failure", "Backend error.")
        if incoming.mode == "permanent":
            return _error(400, "invalid_grant", "Invalid JWT Signature.")
        form = incoming.json if isinstance(incoming.json, dict) else {}
        if form.get("grant_type") != JWT_BEARER:
            return _error(400, "unsupported_grant_type", "Invalid grant_type.")
        assertion = form.get("assertion")
        if not isinstance(assertion, str) or assertion.count(".") != 2:
            return _error(400, "invalid_request", "Invalid assertion.")
        token = {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        return JSONResponse(token)

    return [Route(PATH, endpoint(state, "oauth", handle), methods=["POST"])]
