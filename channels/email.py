"""Email delivery: render an event as subject + text + HTML, send it with SendGrid, map the answer
to an Outcome.

Endpoint: ``POST <NOTIFY_SENDGRID_HOST>/v3/mail/send`` through ``SendGridAPIClient(host=...)``
(one request per attempt; the SDK does not retry). Address: the user's `email` in the subscriber
directory.

Settings: `NOTIFY_SENDGRID_API_KEY` (unset: no client, every attempt PERMANENT "not configured"),
`NOTIFY_SENDGRID_HOST`, `NOTIFY_EMAIL_FROM` (``addr@x`` or ``Name <addr@x>``),
`NOTIFY_PROVIDER_TIMEOUT_S` (the SDK's own default is no timeout at all; ours is set on the
python_http_client `Client`, which hands it to every urllib request it builds).

Error map (python_http_client raises an `HTTPError` subclass for every status >= 400, and urllib's
`URLError` / `TimeoutError` / `http.client.HTTPException` for network problems):

======================================  ====================================================
2xx                                     DELIVERED, receipt = ``X-Message-Id``
429                                     RATE_LIMITED: ``Retry-After``, else ``X-RateLimit-Reset``
                                        minus now, else `DEFAULT_RETRY_AFTER_S`
5xx, timeout, connection error          TRANSIENT
other 4xx (400, 401, 403, 404, 413, …)  PERMANENT, with SendGrid's ``errors[].message``
408                                     TRANSIENT
an address that is not one, bad host    PERMANENT (nothing sent)
anything else                           TRANSIENT
======================================  ====================================================

Details never contain the API key, the address or the message body.
"""

from __future__ import annotations

import html
import http.client
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.error import URLError

from python_http_client.client import Response
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from settings import Settings

from .deps import Deps
from .notice import Notice
from .outcome import Outcome
from .render import summarize
from .retry_after import retry_after_seconds

__all__ = [
    "ADDRESS_FIELD",
    "DEFAULT_RETRY_AFTER_S",
    "EmailMessage",
    "build_client",
    "classify",
    "render",
    "send",
]

log = logging.getLogger(__name__)

#: The UserProfile field that holds this channel's address.
ADDRESS_FIELD = "email"
#: Used when a 429 carries neither Retry-After nor X-RateLimit-Reset (SendGrid's limits are per minute).
DEFAULT_RETRY_AFTER_S = 60.0
#: Longest subject, in characters.
MAX_SUBJECT_CHARS = 200
#: Statuses where sending the same mail again cannot succeed.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One rendered mail: a one-line subject, a plain-text part and an HTML part."""

    subject: str
    text: str
    html: str


def _subject(title: str) -> str:
    """One line (no header injection), at most MAX_SUBJECT_CHARS."""
    line = " ".join(_CONTROL.sub(" ", title).split())
    if len(line) > MAX_SUBJECT_CHARS:
        line = line[: MAX_SUBJECT_CHARS - 1].rstrip() + "…"
    return line or "Notification"


def render(notice: Notice) -> EmailMessage:
    """Subject from the event's title; text and HTML carry the detail lines. Every user-supplied
    string is escaped in the HTML part."""
    summary = summarize(notice)
    subject = _subject(summary.title)
    footer = f"{notice.priority} · event {notice.event_id}"
    text = "\n".join((summary.title, *summary.lines, "", "--", footer))
    e = html.escape
    items = "".join(f"<li>{e(line)}</li>" for line in summary.lines)
    body = (
        "<!DOCTYPE html>\n"
        '<html><head><meta charset="utf-8"></head><body>'
        f"<h2>{e(summary.title)}</h2>"
        + (f"<ul>{items}</ul>" if items else "")
        + f'<p style="color:#868e96;font-size:small">{e(footer)}</p>'
        "</body></html>"
    )
    return EmailMessage(subject=subject, text=text, html=body)


def build_client(settings: Settings) -> SendGridAPIClient | None:
    """The process's SendGrid client, or None when `NOTIFY_SENDGRID_API_KEY` is unset."""
    if not settings.sendgrid_api_key:
        return None
    client = SendGridAPIClient(settings.sendgrid_api_key, host=settings.sendgrid_host.rstrip("/"))
    # python_http_client.Client(timeout=None) by default; `client.mail.send` copies the attribute
    # into each child Client it builds, and `_make_request` passes it to urllib's opener.open.
    client.client.timeout = settings.provider_timeout_s
    return client


def _sender(email_from: str) -> dict[str, str]:
    name, address = parseaddr(email_from)
    return {"email": address, "name": name} if name else {"email": address or email_from}


def _body(message: EmailMessage, address: str, email_from: str) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": address}]}],
        "from": _sender(email_from),
        "subject": message.subject,
        # SendGrid wants text/plain before text/html.
        "content": [
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": message.html},
        ],
    }


def _looks_like_an_address(address: str) -> bool:
    return "@" in address and not _CONTROL.search(address) and " " not in address.strip()


def send(message: EmailMessage, address: str, deps: Deps) -> Outcome:
    """One POST to mail/send; every result, error or exception becomes an Outcome."""
    client = deps.sendgrid
    if client is None:
        return Outcome.permanent("email not configured: NOTIFY_SENDGRID_API_KEY unset")
    if not _looks_like_an_address(address):
        return Outcome.permanent("email address is not a valid address")
    body = _body(message, address.strip(), deps.settings.email_from)
    try:
        response = client.send(body)
    except Exception as exc:  # HTTPError for >= 400, urllib/socket errors, anything else
        return classify(exc)
    return classify(response)


# -- the error map -------------------------------------------------------------------------------


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    return None if value is None else str(value).strip()


def _retry_after(headers: Any) -> float:
    """Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (unix time) minus now."""
    now = time.time()
    seconds = retry_after_seconds(_header(headers, "Retry-After"), now)
    if seconds is not None:
        return seconds
    reset = _header(headers, "X-RateLimit-Reset")
    if reset:
        try:
            seconds = float(reset) - now
            if math.isfinite(seconds):
                return max(seconds, 0.0)
        except ValueError:
            pass
    return DEFAULT_RETRY_AFTER_S


def _reason(error: HTTPError) -> str:
    """SendGrid's own words: each ``errors[].message`` (with its field), else the HTTP reason."""
    body = error.body if isinstance(error.body, bytes) else str(error.body or "").encode()
    messages: list[str] = []
    try:
        parsed = json.loads(body.decode("utf-8", "replace")) if body else None
        for item in parsed.get("errors", []) if isinstance(parsed, dict) else []:
            if isinstance(item, dict) and item.get("message"):
                field = item.get("field")
                messages.append(f"{item['message']} ({field})" if field else str(item["message"]))
    except ValueError:
        pass
    text = "; ".join(messages) or str(getattr(error, "reason", "") or "")
    return text[:500]


def _status(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def classify(result: Response | BaseException) -> Outcome:
    """Map a python_http_client Response, or whatever `send` raised, to an Outcome."""
    if isinstance(result, Response):
        status = _status(result.status_code)
        if 200 <= status < 300:
            return Outcome.delivered(_header(result.headers, "X-Message-Id") or "")
        return Outcome.transient(f"sendgrid HTTP {status}: unexpected answer")
    if isinstance(result, HTTPError):
        status = _status(result.status_code)
        detail = f"sendgrid HTTP {status}: {_reason(result)}"
        if status == 429:
            return Outcome.rate_limited(detail, _retry_after(result.headers))
        if 400 <= status < 500 and status != 408:
            return Outcome.permanent(detail)
        return Outcome.transient(detail)
    if isinstance(result, TimeoutError) or (
        isinstance(result, URLError) and isinstance(result.reason, TimeoutError)
    ):
        return Outcome.transient("sendgrid timeout")
    if isinstance(result, URLError):
        reason = result.reason
        kind = type(reason).__name__ if isinstance(reason, BaseException) else "URLError"
        return Outcome.transient(f"sendgrid connection error: {kind}")
    if isinstance(result, (OSError, http.client.HTTPException)):
        return Outcome.transient(f"sendgrid connection error: {type(result).__name__}")
    if isinstance(result, ValueError):  # urllib: "unknown url type" (NOTIFY_SENDGRID_HOST)
        return Outcome.permanent(f"sendgrid request could not be built: {result}"[:300])
    log.error("channel=email unexpected error", exc_info=result)
    return Outcome.transient(f"internal error: {type(result).__name__}")
