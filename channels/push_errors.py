"""FCM's error map: what an FCM v1 answer, the OAuth token endpoint and the HTTP stack mean.

Per token (FCM's ``error.details[].errorCode`` next to the HTTP status rule of
channels/errors.py; a status that says wait or retry wins, then the code, then the status):

==========================================  ================================================
200                                         delivered, receipt = the message ``name``
UNREGISTERED (404)                          permanent; the token goes into `Outcome.forget`
INVALID_ARGUMENT (400)                      permanent (kept: it may be the message, not the token)
QUOTA_EXCEEDED, 429                         rate limited: ``Retry-After``, else the default
UNAVAILABLE, INTERNAL, 5xx, 408             transient
ACCESS_TOKEN_EXPIRED (401)                  transient: the next attempt fetches a fresh token
SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR  permanent
  (403), other 4xx
401 (bad Bearer token)                      permanent; the remaining tokens are not tried
timeout, connection error                   transient
OAuth token request                         429 rate limited, 5xx/408/network transient,
                                            other 4xx (invalid_grant, ...) permanent; the
                                            remaining tokens are not tried
==========================================  ================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import (
    ExceptionMap,
    exception_name,
    internal_error,
    kind_of_status,
    match_exception,
    outcome_of,
    retry_after_s,
)
from .outcome import Kind, Outcome

__all__ = [
    "CODE_MAP",
    "ERROR_MAP",
    "TokenEndpointError",
    "classify",
    "error_codes",
    "fails_for_every_device",
]

#: Used when a 429 carries no Retry-After (FCM asks for at least a minute).
DEFAULT_RETRY_AFTER_S = 60.0

#: FCM ``errorCode`` -> what it means (table above).
CODE_MAP: Mapping[str, Kind] = {
    "QUOTA_EXCEEDED": Kind.RATE_LIMITED,
    "UNAVAILABLE": Kind.TRANSIENT,
    "INTERNAL": Kind.TRANSIENT,
    "ACCESS_TOKEN_EXPIRED": Kind.TRANSIENT,
    "UNREGISTERED": Kind.PERMANENT,
    "INVALID_ARGUMENT": Kind.PERMANENT,
    "SENDER_ID_MISMATCH": Kind.PERMANENT,
    "THIRD_PARTY_AUTH_ERROR": Kind.PERMANENT,
}

#: What google-auth and requests raise, most specific first.
ERROR_MAP: ExceptionMap = {
    "google.TransportError": (Kind.TRANSIENT, "fcm oauth token request failed"),
    "google.RefreshError": (Kind.PERMANENT, "fcm oauth token refused"),
    "google.GoogleAuthError": (Kind.PERMANENT, "fcm credentials error"),
    "requests.Timeout": (Kind.TRANSIENT, "fcm timeout"),
    "requests.ConnectionError": (Kind.TRANSIENT, "fcm connection error"),
    "requests.RequestException": (Kind.TRANSIENT, "fcm request failed"),
    "builtins.OSError": (Kind.TRANSIENT, "fcm request failed"),
}

#: Hope order when several codes are given: wait beats retry beats give up.
_HOPE = {Kind.RATE_LIMITED: 0, Kind.TRANSIENT: 1, Kind.PERMANENT: 2}


class TokenEndpointError(Exception):
    """The OAuth token endpoint answered other than 200 (raised at once: no google-auth retries)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: Any) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in dict(headers or {}).items()}
        self.body = body
        super().__init__(f"token endpoint HTTP {status}: {self.reason}")

    @property
    def reason(self) -> str:
        """OAuth's ``error: error_description``, else the start of the body."""
        text = (
            self.body.decode("utf-8", "replace") if isinstance(self.body, bytes) else str(self.body)
        )
        try:
            parsed = json.loads(text)
            if isinstance(parsed, dict) and parsed.get("error"):
                description = parsed.get("error_description")
                return f"{parsed['error']}: {description}" if description else str(parsed["error"])
        except ValueError:
            pass
        return text.strip()[:200]


def fails_for_every_device(exc: BaseException) -> bool:
    """A token request or the credentials failed: the sender's problem, not one device's."""
    names = {exception_name(cls) for cls in type(exc).__mro__}
    return isinstance(exc, TokenEndpointError) or "google.GoogleAuthError" in names


def _error_of(body: Any) -> dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_codes(response: Any) -> set[str]:
    """FCM's ``error.details[].errorCode`` values (and ``reason`` of google.rpc.ErrorInfo)."""
    details = _error_of(_json(response)).get("details")
    codes: set[str] = set()
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict):
            codes.update(
                item[key] for key in ("errorCode", "reason") if isinstance(item.get(key), str)
            )
    return codes


def _kind(status: int, codes: set[str]) -> Kind:
    by_status = kind_of_status(status)
    if by_status in (Kind.RATE_LIMITED, Kind.TRANSIENT):
        return by_status
    known = [CODE_MAP[code] for code in codes if code in CODE_MAP]
    return min(known, key=_HOPE.__getitem__) if known else by_status


def _classify_response(response: Any) -> Outcome:
    status, body = response.status_code, _json(response)
    if kind_of_status(status) == Kind.DELIVERED:
        name = body.get("name") if isinstance(body, dict) else None
        return Outcome.delivered(str(name or ""))
    codes = error_codes(response)
    error = _error_of(body)
    label = "/".join(sorted(codes)) or str(error.get("status") or "") or response.reason or ""
    message = str(error.get("message") or "")[:200]
    detail = f"fcm HTTP {status} {label}".rstrip() + (f": {message}" if message else "")
    wait = retry_after_s(response.headers.get("Retry-After"), default=DEFAULT_RETRY_AFTER_S)
    return outcome_of(_kind(status, codes), detail, wait)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or (exc.args[0] if exc.args else None)
    entry = match_exception(cause, ERROR_MAP) if isinstance(cause, BaseException) else None
    if entry is not None and entry[1] in ("fcm timeout", "fcm connection error"):
        return entry[1].removeprefix("fcm ")
    return type(cause or exc).__name__


def classify(result: Any) -> Outcome:
    """Map one FCM response, or what sending raised (token request included), to an Outcome."""
    if not isinstance(result, BaseException):
        return _classify_response(result)
    if isinstance(result, TokenEndpointError):
        detail = f"fcm oauth token HTTP {result.status}: {result.reason}"
        wait = retry_after_s(result.headers.get("retry-after"), default=DEFAULT_RETRY_AFTER_S)
        return outcome_of(kind_of_status(result.status), detail, wait)
    entry = match_exception(result, ERROR_MAP)
    if entry is None:
        return internal_error(result, "push")
    kind, label = entry
    if label == "fcm oauth token request failed":
        return Outcome.transient(f"{label}: {_cause(result)}")
    if label == "fcm oauth token refused":
        retryable = getattr(result, "retryable", False)
        kind = Kind.TRANSIENT if retryable else kind
        return outcome_of(kind, f"{label}: {type(result).__name__}")
    if label in ("fcm request failed", "fcm credentials error"):
        return outcome_of(kind, f"{label}: {type(result).__name__}")
    return outcome_of(kind, label)
