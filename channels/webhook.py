"""Incoming-webhook POST over httpx and the error map shared by Discord and Slack.

Error map: the HTTP status rule of channels/errors.py (2xx DELIVERED, 429 RATE_LIMITED with
`retry_after` of a Discord JSON body, else the Retry-After header; 408/5xx TRANSIENT; other 4xx
such as 404/410 unknown webhook, 400 bad body, 401/403 PERMANENT), then `ERROR_MAP` for what
httpx raises. An answer not read within the provider timeout overall is a timeout too. A
webhook URL is a credential: details never contain it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from .errors import ExceptionMap, kind_of_status, match_exception, outcome_of, retry_after_s
from .outcome import Kind, Outcome

__all__ = ["ERROR_MAP", "check_url", "classify_response", "post_json"]

#: Used when a 429 carries no usable retry-after.
DEFAULT_RETRY_AFTER_S = 5.0
#: Most of a webhook's answer that is read (only its status and error text matter).
MAX_BODY_BYTES = 64 * 1024

#: What httpx raises, most specific first (the table is walked along the class hierarchy).
ERROR_MAP: ExceptionMap = {
    "httpx.UnsupportedProtocol": (Kind.PERMANENT, "webhook address is not an http(s) URL"),
    "httpx.TimeoutException": (Kind.TRANSIENT, "timeout"),
    "httpx.TransportError": (Kind.TRANSIENT, "connection error"),
    "httpx.InvalidURL": (Kind.PERMANENT, "webhook address is not a valid URL"),
    "builtins.UnicodeError": (Kind.PERMANENT, "webhook address is not a valid URL"),
    "builtins.ValueError": (Kind.PERMANENT, "webhook address is not a valid URL"),
}


def check_url(value: str) -> str | None:
    """Why `value` cannot be a webhook address, or None."""
    if not value.startswith(("http://", "https://")):
        return f"webhook address must be an http(s) URL: {value!r}"
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _reason(response: httpx.Response) -> str:
    """The provider's own words: Discord's JSON `message`, Slack's plain-text body."""
    body = _json(response)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.text.strip()[:200] or response.reason_phrase


def classify_response(provider: str, response: httpx.Response) -> Outcome:
    """Map one webhook response to an Outcome."""
    status = response.status_code
    kind = kind_of_status(status)
    if kind == Kind.DELIVERED:
        return Outcome.delivered(f"{provider} HTTP {status}")
    body = _json(response) if kind == Kind.RATE_LIMITED else None
    # Discord's JSON body is exact; the header is rounded up to whole seconds.
    exact = body.get("retry_after") if isinstance(body, dict) else None
    wait = retry_after_s(exact, response.headers.get("Retry-After"), default=DEFAULT_RETRY_AFTER_S)
    return outcome_of(kind, f"{provider} HTTP {status}: {_reason(response)}", wait)


def _post(http: httpx.Client, url: str, body: dict[str, Any], deadline_s: float) -> httpx.Response:
    """POST and read at most MAX_BODY_BYTES of the answer, all within `deadline_s` (httpx's own
    timeouts are per read, so a server dripping bytes could hold a worker far longer)."""
    started = time.monotonic()
    with http.stream("POST", url, json=body) as response:
        content = bytearray()
        for chunk in response.iter_bytes():
            content += chunk[: MAX_BODY_BYTES - len(content)]
            if len(content) >= MAX_BODY_BYTES:
                break
            if time.monotonic() - started > deadline_s:
                raise httpx.ReadTimeout(f"answer not read within {deadline_s:g}s")
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(content)
        )


def post_json(
    http: httpx.Client, provider: str, url: str, body: dict[str, Any], deadline_s: float = 10.0
) -> Outcome:
    """POST the body; every failure becomes an Outcome."""
    try:
        response = _post(http, url, body, deadline_s)
    except Exception as exc:
        entry = match_exception(exc, ERROR_MAP)
        if entry is None:
            raise
        kind, label = entry
        suffix = f": {type(exc).__name__}" if label in ("timeout", "connection error") else ""
        return outcome_of(kind, f"{provider} {label}{suffix}")
    return classify_response(provider, response)
