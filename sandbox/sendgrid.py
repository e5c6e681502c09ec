"""SendGrid v3 Mail Send, answered as SendGrid does.

Endpoint: ``POST /sendgrid/v3/mail/send`` (JSON). Clients use the host ``<sandbox>/sendgrid``
(``SendGridAPIClient(api_key, host=...)`` appends ``/v3/mail/send``). Any API key is accepted.
Answers (error bodies are ``{"errors": [{"message", "field", "help": null}, ...]}``):

=============  ==================================================================
ok             202 empty, with ``X-Message-Id``
invalid body   400, one error per missing part: personalizations (each with ``to``),
               ``from.email``, ``subject`` (top level or in every personalization),
               ``content`` (unless ``template_id``)
rate_limit     429 ``too many requests``, ``Retry-After`` (whole seconds, rounded up) and
               ``X-RateLimit-Reset`` (unix time)
server_error   500 ``internal error``
permanent      401 ``The provided authorization grant is invalid, expired, or revoked``
=============  ==================================================================
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Incoming, endpoint, retry_after_seconds
from .state import SandboxState

__all__ = ["PREFIX", "routes", "validate"]

#: The API root on the sandbox (NOTIFY_SENDGRID_HOST).
PREFIX = "/sendgrid"

_PERSONALIZATIONS = (
    "The personalizations field is required and must have at least one personalization."
)
_TO = "The to array is required for all personalization objects, and must have at least one email."
_FROM = "The from object must be provided for every email send. It requires the email parameter."
_SUBJECT = (
    "The subject is required. You can get around this requirement if you use a template with a "
    "subject defined or if every personalization has a subject defined."
)
_CONTENT = (
    "Unless a valid template_id is provided, the content parameter is required. There must be at "
    "least one defined content block."
)


def _errors(*pairs: tuple[str, str | None], status: int) -> JSONResponse:
    body = {"errors": [{"message": m, "field": f, "help": None} for m, f in pairs]}
    return JSONResponse(body, status_code=status)


def validate(payload: Any) -> list[tuple[str, str | None]]:
    """(message, field) for each required part the mail/send body lacks; [] when it is whole."""
    if not isinstance(payload, dict):
        return [("Bad Request", None)]
    problems: list[tuple[str, str | None]] = []
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append((_PERSONALIZATIONS, "personalizations"))
        personalizations = []
    for index, item in enumerate(personalizations):
        if not isinstance(item, dict) or not item.get("to"):
            problems.append((_TO, f"personalizations.{index}.to"))
    sender = payload.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        problems.append((_FROM, "from.email"))
    every_has_subject = bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations
    )
    if not payload.get("subject") and not every_has_subject and not payload.get("template_id"):
        problems.append((_SUBJECT, "subject"))
    content = payload.get("content")
    whole = isinstance(content, list) and any(
        isinstance(c, dict) and c.get("type") and c.get("value") for c in content
    )
    if not whole and not payload.get("template_id"):
        problems.append((_CONTENT, "content"))
    return problems


def routes(state: SandboxState) -> list[Route]:
    """The mail/send route, recording into `state`."""

    async def handle(incoming: Incoming) -> Response:
        if incoming.mode == "rate_limit":
            seconds = retry_after_seconds(incoming.switch)
            response = _errors(("too many requests", None), status=429)
            response.headers["Retry-After"] = str(seconds)
            response.headers["X-RateLimit-Limit"] = "600"
            response.headers["X-RateLimit-Remaining"] = "0"
            response.headers["X-RateLimit-Reset"] = str(int(time.time()) + seconds)
            return response
        if incoming.mode == "server_error":
            return _errors(("internal error", None), status=500)
        if incoming.mode == "permanent":
            message = "The provided authorization grant is invalid, expired, or revoked"
            return _errors((message, None), status=401)
        problems = validate(incoming.json)
        if problems:
            return _errors(*problems, status=400)
        message_id = f"sandbox-{state.next_message_id()}"
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    return [Route(PREFIX + "/v3/mail/send", endpoint(state, "sendgrid", handle), methods=["POST"])]
