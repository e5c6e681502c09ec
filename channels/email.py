"""Email delivery: render an event as subject + text + HTML, send it with SendGrid, map the answer
to an Outcome.

Endpoint: ``POST <NOTIFY_SENDGRID_HOST>/v3/mail/send`` through ``SendGridAPIClient(host=...)``
(one request per attempt; the SDK does not retry). Address: the user's `email` in the subscriber
directory.

Settings: `NOTIFY_SENDGRID_API_KEY` (unset: not configured), `NOTIFY_SENDGRID_HOST`,
`NOTIFY_EMAIL_FROM` (``addr@x`` or ``Name <addr@x>``), `NOTIFY_PROVIDER_TIMEOUT_S` (the SDK's own
default is no timeout at all; ours is set on the python_http_client `Client`, which hands it to
every urllib request it builds).

Error map: python_http_client raises an `HTTPError` subclass for every status >= 400, which
follows the HTTP status rule of channels/errors.py (429 waits ``Retry-After``, else
``X-RateLimit-Reset`` minus now, else `DEFAULT_RETRY_AFTER_S`; SendGrid's ``errors[].message``
goes into the detail); what urllib and the socket raise is `ERROR_MAP`:

======================================  ====================================================
2xx                                     DELIVERED, receipt = ``X-Message-Id``
URLError / TimeoutError / OSError /     TRANSIENT ("timeout", "connection error")
HTTPException (of http.client)
ValueError (unknown url type)           PERMANENT (NOTIFY_SENDGRID_HOST is wrong)
an address that is not one              PERMANENT (nothing sent)
anything else                           TRANSIENT "internal error"
======================================  ====================================================

Details never contain the API key, the address or the message body.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from proto import ChannelType
from settings import Settings

from .base import AddressSpec, Channel
from .deps import Deps
from .errors import (
    ExceptionMap,
    internal_error,
    kind_of_status,
    match_exception,
    outcome_of,
    retry_after_s,
)
from .notice import Notice
from .outcome import Kind, Outcome
from .render import summarize

__all__ = ["CHANNEL", "DEFAULT_RETRY_AFTER_S", "ERROR_MAP", "Email", "EmailMessage", "classify"]

#: Used when a 429 carries neither Retry-After nor X-RateLimit-Reset (SendGrid's limits are per minute).
DEFAULT_RETRY_AFTER_S = 60.0
#: Longest subject, in characters.
MAX_SUBJECT_CHARS = 200

#: What urllib, http.client and the socket raise (module docstring), most specific first.
ERROR_MAP: ExceptionMap = {
    "builtins.TimeoutError": (Kind.TRANSIENT, "sendgrid timeout"),
    "urllib.URLError": (Kind.TRANSIENT, "sendgrid connection error"),
    "builtins.OSError": (Kind.TRANSIENT, "sendgrid connection error"),
    "http.HTTPException": (Kind.TRANSIENT, "sendgrid connection error"),
    "builtins.ValueError": (Kind.PERMANENT, "sendgrid request could not be built"),
}

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


# -- the error map -------------------------------------------------------------------------------


def _header(headers: Any, name: str) -> str | None:
    try:
        value = headers.get(name) if headers is not None else None
    except AttributeError:
        return None
    return None if value is None else str(value).strip()


def _until(reset: str | None) -> float | None:
    """Seconds from now to a unix time (X-RateLimit-Reset), or None."""
    try:
        return float(reset) - time.time() if reset else None
    except ValueError:
        return None


def _reason(body: Any, fallback: str) -> str:
    """SendGrid's own words: each ``errors[].message`` (with its field), else the HTTP reason."""
    raw = body if isinstance(body, bytes) else str(body or "").encode()
    messages: list[str] = []
    try:
        parsed = json.loads(raw.decode("utf-8", "replace")) if raw else None
        for item in parsed.get("errors", []) if isinstance(parsed, dict) else []:
            if isinstance(item, dict) and item.get("message"):
                field = item.get("field")
                messages.append(f"{item['message']} ({field})" if field else str(item["message"]))
    except ValueError:
        pass
    return ("; ".join(messages) or fallback)[:500]


def _status(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def classify(result: Any) -> Outcome:
    """Map what `client.send` returned (a python_http_client Response) or raised to an Outcome."""
    status = _status(getattr(result, "status_code", None))
    headers = getattr(result, "headers", None)
    if not isinstance(result, BaseException):
        if kind_of_status(status) == Kind.DELIVERED:
            return Outcome.delivered(_header(headers, "X-Message-Id") or "")
        return Outcome.transient(f"sendgrid HTTP {status}: unexpected answer")
    if status:  # python_http_client's HTTPError: the status rule
        reason = _reason(getattr(result, "body", b""), str(getattr(result, "reason", "") or ""))
        wait = retry_after_s(
            _header(headers, "Retry-After"),
            _until(_header(headers, "X-RateLimit-Reset")),
            default=DEFAULT_RETRY_AFTER_S,
        )
        return outcome_of(kind_of_status(status), f"sendgrid HTTP {status}: {reason}", wait)
    entry = match_exception(result, ERROR_MAP)
    if entry is None:
        return internal_error(result, "email")
    kind, label = entry
    reason = getattr(result, "reason", None)
    if label == "sendgrid connection error":
        if isinstance(reason, TimeoutError):
            return Outcome.transient("sendgrid timeout")
        cause = reason if isinstance(reason, BaseException) else result
        return Outcome.transient(f"{label}: {type(cause).__name__}")
    if kind == Kind.PERMANENT:  # its text would name the host: check NOTIFY_SENDGRID_HOST
        return Outcome.permanent(f"{label}: check NOTIFY_SENDGRID_HOST")
    return outcome_of(kind, label)


# -- the channel ---------------------------------------------------------------------------------


class Email(Channel):
    """A mail through SendGrid's v3 API."""

    __slots__ = ()
    type = ChannelType.EMAIL
    address_spec = AddressSpec("email", "--email", "Email address.")
    sandbox = "sendgrid"
    client_setting = "NOTIFY_SENDGRID_API_KEY"

    def render(self, notice: Notice) -> EmailMessage:
        """Subject from the event's title; text and HTML carry the detail lines. Every
        user-supplied string is escaped in the HTML part."""
        summary = summarize(notice)
        footer = f"{notice.priority} · event {notice.event_id}"
        ack = [f"Got it? Acknowledge with one click: {notice.ack_url}"] if notice.ack_url else []
        text = "\n".join(
            (summary.title, *summary.lines, *([""] + ack if ack else []), "", "--", footer)
        )
        e = html.escape
        items = "".join(f"<li>{e(line)}</li>" for line in summary.lines)
        button = (
            f'<p><a href="{e(notice.ack_url)}" style="font-weight:bold">Got it: acknowledge</a></p>'
            if notice.ack_url
            else ""
        )
        body = (
            "<!DOCTYPE html>\n"
            '<html><head><meta charset="utf-8"></head><body>'
            f"<h2>{e(summary.title)}</h2>"
            + (f"<ul>{items}</ul>" if items else "")
            + button
            + f'<p style="color:#868e96;font-size:small">{e(footer)}</p>'
            "</body></html>"
        )
        return EmailMessage(subject=_subject(summary.title), text=text, html=body)

    def send(self, rendered: EmailMessage, address: str, deps: Deps) -> Outcome:
        """One POST to mail/send."""
        if not _looks_like_an_address(address):
            return Outcome.permanent("email address is not a valid address")
        body = _body(rendered, address.strip(), deps.settings.email_from)
        try:
            response = deps.client(self.type).send(body)
        except Exception as exc:  # HTTPError for >= 400, urllib/socket errors, anything else
            return classify(exc)
        return classify(response)

    def build_client(self, settings: Settings) -> Any:
        """The process's SendGrid client, or None when `NOTIFY_SENDGRID_API_KEY` is unset."""
        if not settings.sendgrid_api_key:
            return None
        from sendgrid import SendGridAPIClient  # the SDK loads only where email is sent

        sendgrid = SendGridAPIClient(
            settings.sendgrid_api_key, host=settings.sendgrid_host.rstrip("/")
        )
        # python_http_client.Client(timeout=None) by default; `mail.send` copies the attribute
        # into each child Client it builds, and `_make_request` passes it to opener.open.
        http_client = sendgrid.client
        http_client.timeout = settings.provider_timeout_s
        return sendgrid


CHANNEL = Email()
