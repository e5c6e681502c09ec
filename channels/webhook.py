"""Incoming-webhook POST over httpx and the error map shared by Discord and Slack.

Error map: 2xx -> DELIVERED; 429 -> RATE_LIMITED (`retry_after` of a Discord JSON body, else
the Retry-After header); an address that is not a valid http(s) URL -> PERMANENT; 5xx, timeouts
(also an answer not read within the provider timeout overall) and connection errors ->
TRANSIENT; other 4xx (404/410 unknown webhook, 400 bad body, 401/403) -> PERMANENT. A webhook
URL is a credential: details never contain it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from .outcome import Outcome
from .retry_after import retry_after_seconds

__all__ = ["classify_response", "post_json"]

#: Used when a 429 carries no usable retry-after.
DEFAULT_RETRY_AFTER_S = 5.0
#: Most of a webhook's answer that is read (only its status and error text matter).
MAX_BODY_BYTES = 64 * 1024


def _retry_after(response: httpx.Response) -> float:
    # Discord's JSON body is exact; the header is rounded up to whole seconds.
    try:
        body = response.json()
        if isinstance(body, dict) and "retry_after" in body:
            return max(float(body["retry_after"]), 0.0)
    except ValueError:
        pass
    seconds = retry_after_seconds(response.headers.get("Retry-After"))
    return DEFAULT_RETRY_AFTER_S if seconds is None else seconds


def _reason(response: httpx.Response) -> str:
    """The provider's own words: Discord's JSON `message`, Slack's plain-text body."""
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except ValueError:
        pass
    return response.text.strip()[:200] or response.reason_phrase


def classify_response(provider: str, response: httpx.Response) -> Outcome:
    """Map one webhook response to an Outcome."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.delivered(f"{provider} HTTP {status}")
    detail = f"{provider} HTTP {status}: {_reason(response)}"
    if status == 429:
        return Outcome.rate_limited(detail, _retry_after(response))
    if status >= 500:
        return Outcome.transient(detail)
    return Outcome.permanent(detail)


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
    except httpx.UnsupportedProtocol:
        return Outcome.permanent(f"{provider} webhook address is not an http(s) URL")
    except httpx.TimeoutException as exc:
        return Outcome.transient(f"{provider} timeout: {type(exc).__name__}")
    except httpx.TransportError as exc:
        return Outcome.transient(f"{provider} connection error: {type(exc).__name__}")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return Outcome.permanent(f"{provider} webhook address is not a valid URL")
    return classify_response(provider, response)
