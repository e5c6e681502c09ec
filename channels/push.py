"""Push delivery: render an event as an FCM notification, send it to each of the user's devices
with pyfcm, map FCM's answers to one Outcome and forget devices FCM no longer knows.

Endpoint: ``POST <NOTIFY_FCM_ENDPOINT>/v1/projects/<project>/messages:send`` (FCM HTTP v1), one
request per registration token, with a Bearer token that google-auth fetches from the
service account's ``token_uri`` (Google, or the sandbox's ``/oauth/token``). Address: the user's
`push_tokens` in the subscriber directory.

Settings: `NOTIFY_FCM_CREDENTIALS` (service-account file; unset: no client, every attempt
PERMANENT "not configured"), `NOTIFY_FCM_PROJECT_ID` (else the file's ``project_id``),
`NOTIFY_FCM_ENDPOINT`, `NOTIFY_PROVIDER_TIMEOUT_S` (FCM and token requests alike).

pyfcm is used with three changes (`FcmClient`): the endpoint base comes from the settings; its
HTTP adapter has no retries (pyfcm's default retries 502/503 with backoff); `send_request` POSTs
once and never sleeps (pyfcm's sleeps on Retry-After and calls itself again). The OAuth token
request also goes out once (google-auth would retry 5xx/429 with backoff) with the timeout.

Error map, per token (FCM's ``error.details[].errorCode`` first, then the HTTP status):

==========================================  ================================================
200                                         delivered, receipt = the message ``name``
UNREGISTERED (404)                          permanent, and the token is removed from the profile
INVALID_ARGUMENT (400)                      permanent (kept: it may be the message, not the token)
QUOTA_EXCEEDED, 429                         rate limited: ``Retry-After``, else the default
UNAVAILABLE, INTERNAL, 5xx, 408             transient
SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR  permanent
  (403), other 4xx
401 (bad Bearer token)                      permanent; the cached token is dropped, and the
                                            remaining tokens are not tried
timeout, connection error                   transient
OAuth token request                         429 rate limited, 5xx/408/network transient,
                                            other 4xx (invalid_grant, ...) permanent; the
                                            remaining tokens are not tried
==========================================  ================================================

The push is DELIVERED when at least one device accepted it. Otherwise the most hopeful result
wins (rate limited > transient > permanent), with a detail listing each token's result. Details
show a token's first 8 characters only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2 import service_account
from pyfcm import FCMNotification
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from settings import Settings

from .deps import Deps
from .notice import Notice
from .outcome import Kind, Outcome, SkipCode
from .render import summarize
from .retry_after import retry_after_seconds

__all__ = [
    "ADDRESS_FIELD",
    "DEFAULT_RETRY_AFTER_S",
    "FcmClient",
    "PushMessage",
    "TokenEndpointError",
    "TokenResult",
    "build_client",
    "classify",
    "render",
    "send",
]

log = logging.getLogger(__name__)

#: No new device is started after this long in one attempt (the task's soft limit is 30 s).
SEND_BUDGET_S = 15.0

#: The UserProfile field that holds this channel's addresses (a tuple of registration tokens).
ADDRESS_FIELD = "push_tokens"
#: Used when a 429 carries no Retry-After (FCM asks for at least a minute).
DEFAULT_RETRY_AFTER_S = 60.0
#: The OAuth scope FCM v1 needs.
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
#: Title and body limits in UTF-8 bytes: with the data they stay well under FCM's 4 KiB.
MAX_TITLE_BYTES = 400
MAX_BODY_BYTES = 2000
#: Characters of a token shown in details and logs.
TOKEN_PREFIX_CHARS = 8

_TRANSIENT_CODES = frozenset({"UNAVAILABLE", "INTERNAL"})
_PERMANENT_CODES = frozenset({"SENDER_ID_MISMATCH", "THIRD_PARTY_AUTH_ERROR", "INVALID_ARGUMENT"})


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One rendered push: notification title and body, and string-only data for the app."""

    title: str
    body: str
    data: dict[str, str]


def _clip(text: str, max_bytes: int) -> str:
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    clipped = text.encode("utf-8")[: max_bytes - 3].decode("utf-8", "ignore")
    return clipped.rstrip() + "…"


def render(notice: Notice) -> PushMessage:
    """Title and detail lines of the event; data carries its ids (FCM data values are strings)."""
    summary = summarize(notice)
    return PushMessage(
        title=_clip(summary.title, MAX_TITLE_BYTES),
        body=_clip("\n".join(summary.lines), MAX_BODY_BYTES),
        data={
            "event_id": str(notice.event_id),
            "event_type": str(notice.event_type),
            "priority": str(notice.priority),
            "user_id": str(notice.user_id),
        },
    )


# -- the client ----------------------------------------------------------------------------------


class TokenEndpointError(Exception):
    """The OAuth token endpoint answered other than 200 (raised at once: no google-auth retries)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: Any) -> None:
        self.status = status
        self.headers = CaseInsensitiveDict(headers or {})
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


class _TokenRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with our timeout, that fails on the first non-200 answer
    (google-auth's token client would otherwise retry 5xx/429 three times, sleeping between)."""

    def __init__(self, session: requests.Session, timeout_s: float) -> None:
        super().__init__(session)
        self._timeout_s = timeout_s

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):  # type: ignore[override]
        response = super().__call__(
            url, method=method, body=body, headers=headers, timeout=self._timeout_s, **kwargs
        )
        if response.status != 200:
            raise TokenEndpointError(response.status, response.headers, response.data)
        return response


def _session(adapter: HTTPAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class FcmClient(FCMNotification):
    """pyfcm pointed at `endpoint` (FCM or the sandbox), one POST per send, never sleeping."""

    def __init__(
        self,
        *,
        endpoint: str,
        project_id: str,
        credentials: service_account.Credentials,
        timeout_s: float,
    ) -> None:
        super().__init__(
            credentials=credentials, project_id=project_id, adapter=HTTPAdapter(max_retries=0)
        )
        self.FCM_END_POINT_BASE = endpoint.rstrip("/") + "/v1/projects"
        # pyfcm prefers the credentials' project over ours; fix the URL here instead.
        self._fcm_end_point = f"{self.FCM_END_POINT_BASE}/{project_id}/messages:send"
        self.timeout_s = timeout_s
        self._token_request = _TokenRequest(_session(HTTPAdapter(max_retries=0)), timeout_s)

    def _get_access_token(self) -> str:
        """A fresh Bearer token; raises TokenEndpointError or google.auth errors unwrapped
        (pyfcm wraps them all in InvalidDataError, losing the status)."""
        self.credentials.refresh(self._token_request)
        return self.credentials.token

    def send_request(self, payload: Any = None, timeout: Any = None) -> requests.Response:
        """One POST: no sleep on Retry-After, no second try (the caller classifies)."""
        session = self.requests_session  # fetches a token when the cached one is stale
        response = session.post(self.fcm_end_point, data=payload, timeout=self.timeout_s)
        if response.status_code == 401:
            self.thread_local.token_expiry = 0  # the next attempt fetches a fresh token
        return response

    def forget_token(self) -> None:
        """Drop this thread's cached Bearer token (after a failed token request)."""
        if getattr(self.thread_local, "requests_session", None) is not None:
            self.thread_local.token_expiry = 0


def build_client(settings: Settings) -> FcmClient | None:
    """The process's FCM client, or None when `NOTIFY_FCM_CREDENTIALS` is unset.

    Raises ValueError when the credentials file cannot be read or no project is known (bad
    config fails at start-up, not at the first push). No network here: the first send fetches
    the OAuth token.
    """
    if not settings.fcm_credentials:
        return None
    try:
        credentials = service_account.Credentials.from_service_account_file(
            settings.fcm_credentials, scopes=[FCM_SCOPE]
        )
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"NOTIFY_FCM_CREDENTIALS: cannot load the service-account file: {type(exc).__name__}: {exc}"
        ) from exc
    project_id = settings.fcm_project_id or getattr(credentials, "project_id", None) or ""
    if not project_id:
        raise ValueError(
            "NOTIFY_FCM_PROJECT_ID unset and the service-account file names no project_id"
        )
    return FcmClient(
        endpoint=settings.fcm_endpoint,
        project_id=project_id,
        credentials=credentials,
        timeout_s=settings.provider_timeout_s,
    )


# -- sending -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenResult:
    """What happened to one device token."""

    token: str
    outcome: Outcome
    #: FCM said UNREGISTERED: remove the token from the profile.
    unregistered: bool = False
    #: The failure concerns the sender, not this device: the other tokens would fail alike.
    sender_wide: bool = False


def short(token: str) -> str:
    """A token as shown in details and logs."""
    return token[:TOKEN_PREFIX_CHARS] + "…" if len(token) > TOKEN_PREFIX_CHARS else token


def _payload(client: FcmClient, message: PushMessage, token: str) -> bytes:
    urgent = message.data.get("priority") == "CRITICAL"
    return client.parse_payload(
        fcm_token=token,
        notification_title=message.title,
        notification_body=message.body or None,
        data_payload=dict(message.data),
        android_config={"priority": "high" if urgent else "normal"},
        apns_config={"headers": {"apns-priority": "10" if urgent else "5"}},
    )


def _send_one(client: FcmClient, message: PushMessage, token: str) -> TokenResult:
    try:
        response = client.send_request(_payload(client, message, token))
    except Exception as exc:
        if isinstance(exc, (TokenEndpointError, google.auth.exceptions.GoogleAuthError)):
            client.forget_token()
            return TokenResult(token, classify(exc), sender_wide=True)
        return TokenResult(token, classify(exc))
    outcome = classify(response)
    return TokenResult(
        token,
        outcome,
        unregistered="UNREGISTERED" in _error_codes(response),
        sender_wide=response.status_code == 401 and outcome.kind == Kind.PERMANENT,
    )


def _remove_tokens(deps: Deps, user_id: str, gone: Sequence[str]) -> bool:
    """Take unregistered tokens out of the profile; False (logged) when Redis failed."""
    try:
        profile = deps.store.directory.get(user_id)
        if profile is None:
            return True
        kept = tuple(t for t in profile.push_tokens if t not in set(gone))
        if kept != profile.push_tokens:
            deps.store.directory.update(user_id, push_tokens=kept)
        return True
    except Exception:
        log.warning(
            "channel=push could not remove %d unregistered tokens", len(gone), exc_info=True
        )
        return False


_HOPE = {Kind.RATE_LIMITED: 0, Kind.TRANSIENT: 1, Kind.PERMANENT: 2}


def _combine(results: Sequence[TokenResult], untried: Sequence[str], removed: bool) -> Outcome:
    """One Outcome for the whole push (see the module docstring)."""
    parts = []
    for result in results:
        note = result.outcome.detail
        if result.unregistered:
            note += " (removed)" if removed else " (removal failed)"
        parts.append(f"{short(result.token)}: {note}")
    parts.extend(f"{short(token)}: not tried" for token in untried)
    delivered = [r for r in results if r.outcome.kind == Kind.DELIVERED]
    total = len(results) + len(untried)
    if delivered:
        receipt = ",".join(r.outcome.receipt or "" for r in delivered)
        if len(delivered) == total:
            return Outcome.delivered(receipt)
        detail = f"push delivered to {len(delivered)} of {total} devices; " + "; ".join(parts)
        return Outcome(Kind.DELIVERED, detail, receipt=receipt)
    best = min(results, key=lambda r: _HOPE.get(r.outcome.kind, 1)).outcome
    detail = f"push failed on {total} device{'s' if total != 1 else ''}: " + "; ".join(parts)
    if best.kind == Kind.RATE_LIMITED:
        wait = max(r.outcome.retry_after_s or 0.0 for r in results if r.outcome.kind == best.kind)
        return Outcome.rate_limited(detail, wait)
    if best.kind == Kind.PERMANENT:
        return Outcome.permanent(detail)
    return Outcome.transient(detail)


def send(message: PushMessage, tokens: Sequence[str], deps: Deps, user_id: str) -> Outcome:
    """One POST per device token; unregistered tokens are removed from `user_id`'s profile."""
    try:
        unique = tuple(dict.fromkeys(t.strip() for t in tokens if t and t.strip()))
        if not unique:
            return Outcome.skipped(SkipCode.NO_ADDRESS, f"no {ADDRESS_FIELD} for user")
        client = deps.fcm
        if client is None:
            return Outcome.permanent("push not configured: NOTIFY_FCM_CREDENTIALS unset")
        results: list[TokenResult] = []
        started = time.monotonic()
        for token in unique:
            if results and time.monotonic() - started > SEND_BUDGET_S:
                break  # the rest are "not tried": better than the soft time limit hitting mid-loop
            result = _send_one(client, message, token)
            results.append(result)
            if result.sender_wide:
                break
        untried = unique[len(results) :]
        gone = [r.token for r in results if r.unregistered]
        removed = _remove_tokens(deps, user_id, gone) if gone else True
        if gone:
            log.info("channel=push removed=%d unregistered tokens", len(gone))
        return _combine(results, untried, removed)
    except Exception as exc:  # a bug here must not break the chain
        log.exception("channel=push unexpected error")
        return Outcome.transient(f"internal error: {type(exc).__name__}")


# -- the error map -------------------------------------------------------------------------------


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error(response: requests.Response) -> dict[str, Any]:
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_codes(response: requests.Response) -> set[str]:
    """FCM's ``error.details[].errorCode`` values (and ``reason`` of google.rpc.ErrorInfo)."""
    details = _error(response).get("details")
    codes: set[str] = set()
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict):
            for key in ("errorCode", "reason"):
                if isinstance(item.get(key), str):
                    codes.add(item[key])
    return codes


def _retry_after(headers: Mapping[str, str]) -> float:
    seconds = retry_after_seconds(headers.get("Retry-After"))
    return DEFAULT_RETRY_AFTER_S if seconds is None else seconds


def _classify_response(response: requests.Response) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        body = _json(response)
        name = body.get("name") if isinstance(body, dict) else None
        return Outcome.delivered(str(name or ""))
    codes = _error_codes(response)
    error = _error(response)
    label = "/".join(sorted(codes)) or str(error.get("status") or "") or response.reason or ""
    message = str(error.get("message") or "")[:200]
    detail = f"fcm HTTP {status} {label}".rstrip() + (f": {message}" if message else "")
    if status == 429 or "QUOTA_EXCEEDED" in codes:
        return Outcome.rate_limited(detail, _retry_after(response.headers))
    if status >= 500 or status == 408 or codes & _TRANSIENT_CODES:
        return Outcome.transient(detail)
    if status == 401 and "ACCESS_TOKEN_EXPIRED" in codes:
        return Outcome.transient(detail)  # the next attempt fetches a fresh token
    if 400 <= status < 500 or codes & _PERMANENT_CODES or "UNREGISTERED" in codes:
        return Outcome.permanent(detail)
    return Outcome.transient(detail)


def classify(result: requests.Response | BaseException) -> Outcome:
    """Map one FCM response, or what sending raised (token request included), to an Outcome."""
    if isinstance(result, requests.Response):
        return _classify_response(result)
    if isinstance(result, TokenEndpointError):
        detail = f"fcm oauth token HTTP {result.status}: {result.reason}"
        if result.status == 429:
            return Outcome.rate_limited(detail, _retry_after(result.headers))
        if result.status >= 500 or result.status == 408:
            return Outcome.transient(detail)
        return Outcome.permanent(detail)
    if isinstance(result, google.auth.exceptions.TransportError):
        return Outcome.transient(f"fcm oauth token request failed: {_cause(result)}")
    if isinstance(result, google.auth.exceptions.RefreshError):
        kind = Outcome.transient if getattr(result, "retryable", False) else Outcome.permanent
        return kind(f"fcm oauth token refused: {str(result)[:200]}")
    if isinstance(result, google.auth.exceptions.GoogleAuthError):
        return Outcome.permanent(f"fcm credentials error: {type(result).__name__}")
    if isinstance(result, requests.Timeout):
        return Outcome.transient("fcm timeout")
    if isinstance(result, requests.ConnectionError):
        return Outcome.transient("fcm connection error")
    if isinstance(result, (requests.RequestException, OSError)):
        return Outcome.transient(f"fcm request failed: {type(result).__name__}")
    log.error("channel=push unexpected error", exc_info=result)
    return Outcome.transient(f"internal error: {type(result).__name__}")


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or (exc.args[0] if exc.args else None)
    if isinstance(cause, requests.Timeout):
        return "timeout"
    if isinstance(cause, requests.ConnectionError):
        return "connection error"
    return type(cause or exc).__name__
