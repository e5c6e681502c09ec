"""Push delivery: render an event as an FCM notification, send it to each of the user's devices
with pyfcm, and map FCM's answers to one Outcome.

Endpoint: ``POST <NOTIFY_FCM_ENDPOINT>/v1/projects/<project>/messages:send`` (FCM HTTP v1), one
request per registration token, with a Bearer token that google-auth fetches from the service
account's ``token_uri`` (Google, or the sandbox's ``/oauth/token``); channels/push_client.py
holds the pyfcm client. Address: the user's `push_tokens` in the subscriber directory.

Settings: `NOTIFY_FCM_CREDENTIALS` (service-account file; unset: not configured),
`NOTIFY_FCM_PROJECT_ID` (else the file's ``project_id``), `NOTIFY_FCM_ENDPOINT`,
`NOTIFY_PROVIDER_TIMEOUT_S` (FCM and token requests alike).

Error map: channels/push_errors.py. The push is DELIVERED when at least one device accepted it.
Otherwise the most hopeful result wins (rate limited > transient > permanent), with a detail
listing each token's result. Tokens FCM calls UNREGISTERED come back in `Outcome.forget`, and
the task drops them from the profile. Details show a token's first 8 characters only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proto import ChannelType
from settings import Settings

from .base import AddressSpec, Channel
from .deps import Deps
from .notice import Notice
from .outcome import Kind, Outcome
from .push_errors import classify, error_codes, fails_for_every_device
from .render import summarize

if TYPE_CHECKING:
    from .push_client import FcmClient

__all__ = ["CHANNEL", "MAX_TITLE_BYTES", "Push", "PushMessage", "TokenResult", "short"]

#: No new device is started after this long in one attempt (tasks/timing.py).
SEND_BUDGET_S = 8.0
#: Title and body limits in UTF-8 bytes: with the data they stay well under FCM's 4 KiB.
MAX_TITLE_BYTES = 400
MAX_BODY_BYTES = 2000
#: Characters of a token shown in details and logs.
TOKEN_PREFIX_CHARS = 8


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One rendered push: notification title and body, and string-only data for the app."""

    title: str
    body: str
    data: dict[str, str]


@dataclass(frozen=True, slots=True)
class TokenResult:
    """What happened to one device token."""

    token: str
    outcome: Outcome
    #: FCM said UNREGISTERED: the token is gone for good.
    unregistered: bool = False
    #: The failure concerns the sender, not this device: the other tokens would fail alike.
    sender_wide: bool = False


def _clip(text: str, max_bytes: int) -> str:
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    clipped = text.encode("utf-8")[: max_bytes - 3].decode("utf-8", "ignore")
    return clipped.rstrip() + "…"


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
        if fails_for_every_device(exc):
            client.forget_token()
            return TokenResult(token, classify(exc), sender_wide=True)
        return TokenResult(token, classify(exc))
    outcome = classify(response)
    return TokenResult(
        token,
        outcome,
        unregistered="UNREGISTERED" in error_codes(response),
        sender_wide=response.status_code == 401 and outcome.kind == Kind.PERMANENT,
    )


_HOPE = {Kind.RATE_LIMITED: 0, Kind.TRANSIENT: 1, Kind.PERMANENT: 2}


def _combine(results: Sequence[TokenResult], untried: Sequence[str]) -> Outcome:
    """One Outcome for the whole push (see the module docstring)."""
    parts = [
        f"{short(r.token)}: {r.outcome.detail}" + (" (unregistered)" if r.unregistered else "")
        for r in results
    ]
    parts.extend(f"{short(token)}: not tried" for token in untried)
    gone = tuple(r.token for r in results if r.unregistered)
    delivered = [r for r in results if r.outcome.kind == Kind.DELIVERED]
    total = len(results) + len(untried)
    if delivered:
        receipt = ",".join(r.outcome.receipt or "" for r in delivered)
        detail = (
            f"delivered ({receipt})"
            if len(delivered) == total
            else f"push delivered to {len(delivered)} of {total} devices; " + "; ".join(parts)
        )
        return Outcome(Kind.DELIVERED, detail, receipt=receipt, forget=gone)
    best = min(results, key=lambda r: _HOPE.get(r.outcome.kind, 1)).outcome
    detail = f"push failed on {total} device{'s' if total != 1 else ''}: " + "; ".join(parts)
    wait = None
    if best.kind == Kind.RATE_LIMITED:
        wait = max(r.outcome.retry_after_s or 0.0 for r in results if r.outcome.kind == best.kind)
    return Outcome(best.kind, detail, retry_after_s=wait, forget=gone)


class Push(Channel):
    """FCM v1 to every device token of the user."""

    __slots__ = ()
    type = ChannelType.PUSH
    address_spec = AddressSpec(
        "push_tokens", "--push-token", "FCM token to add (repeatable).", many=True
    )
    sandbox = "fcm"
    client_setting = "NOTIFY_FCM_CREDENTIALS"

    def address(self, profile) -> tuple[str, ...]:
        """The user's distinct, non-blank device tokens."""
        return tuple(dict.fromkeys(t.strip() for t in profile.push_tokens if t and t.strip()))

    def render(self, notice: Notice) -> PushMessage:
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
                # The app's "Got it" action opens this link (empty: no acknowledgement asked).
                **({"ack_url": notice.ack_url} if notice.ack_url else {}),
            },
        )

    def send(self, rendered: PushMessage, address: tuple[str, ...], deps: Deps) -> Outcome:
        """One POST per device token, until one fails for the sender or the budget is spent."""
        client: FcmClient = deps.client(self.type)
        results: list[TokenResult] = []
        started = time.monotonic()
        for token in address:
            if results and time.monotonic() - started > SEND_BUDGET_S:
                break  # the rest are "not tried": better than the soft time limit hitting mid-loop
            result = _send_one(client, rendered, token)
            results.append(result)
            if result.sender_wide:
                break
        return _combine(results, address[len(results) :])

    def build_client(self, settings: Settings) -> FcmClient | None:
        """The process's FCM client, or None when `NOTIFY_FCM_CREDENTIALS` is unset; ValueError
        when the credentials file cannot be read or no project is known (bad config fails at
        start-up, not at the first push). No network here."""
        if not settings.fcm_credentials:
            return None
        from .push_client import build_fcm_client  # pyfcm loads only where push is sent

        return build_fcm_client(settings)


CHANNEL = Push()
