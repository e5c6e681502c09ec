"""Email channel through the real SendGrid SDK against the sandbox, table-driven over its switches."""

from __future__ import annotations

import time

import httpx
import pytest
from python_http_client.exceptions import HTTPError

from channels import Deps, Kind, Notice, Outcome, deliver
from channels import email as email_channel
from proto import ChannelType
from sandbox import SandboxServer, sendgrid_host
from settings import Settings
from store import Store, UserProfile
from tests.helpers import FILL_PAYLOAD, FILL_TITLE, closed_port_url, make_deps, make_notice

ADDRESS = "trader@example.com"
SENDER = "Notify Alerts <alerts@example.com>"
PERMANENT_REASON = "The provided authorization grant is invalid, expired, or revoked"


def notice(**changes: str) -> Notice:
    """A CRITICAL ORDER_FILLED titled FILL_TITLE, with `changes` to its payload."""
    return make_notice(payload={**FILL_PAYLOAD, **changes})


def email_deps(settings: Settings, store: Store, http: httpx.Client) -> Deps:
    """Deps with the SendGrid client these settings build (none when unconfigured)."""
    client = email_channel.CHANNEL.build_client(settings)
    return make_deps(settings, store, http, clients={ChannelType.EMAIL: client})


@pytest.fixture
def email_settings(settings: Settings, clean_sandbox: SandboxServer) -> Settings:
    return settings.model_copy(
        update={
            "sendgrid_api_key": "SG.sandbox-test-key",
            "sendgrid_host": sendgrid_host(clean_sandbox.url),
            "email_from": SENDER,
        }
    )


@pytest.fixture
def deps(email_settings: Settings, store: Store, http: httpx.Client) -> Deps:
    return email_deps(email_settings, store, http)


def send(deps: Deps, address: str = ADDRESS, event: Notice | None = None) -> Outcome:
    """Through channels.deliver, as a task does: address, "not configured", render, send."""
    event = event or notice()
    profile = UserProfile(user_id=event.user_id, email=address)
    return deliver(email_channel.CHANNEL, event, profile, deps)


#: switch mode -> (outcome kind, text the detail must contain)
CASES = [
    ("ok", Kind.DELIVERED, "delivered"),
    ("rate_limit", Kind.RATE_LIMITED, "sendgrid HTTP 429: too many requests"),
    ("server_error", Kind.TRANSIENT, "sendgrid HTTP 500: internal error"),
    ("permanent", Kind.PERMANENT, f"sendgrid HTTP 401: {PERMANENT_REASON}"),
]


@pytest.mark.parametrize(("mode", "kind", "detail"), CASES)
def test_switch_maps_to_outcome(
    mode: str, kind: Kind, detail: str, clean_sandbox: SandboxServer, deps: Deps
) -> None:
    clean_sandbox.state.set_switch("sendgrid", mode, retry_after=2.5)

    outcome = send(deps)

    assert outcome.kind == kind, outcome
    assert detail in outcome.detail
    assert "SG.sandbox-test-key" not in outcome.detail
    assert ADDRESS not in outcome.detail
    (record,) = clean_sandbox.state.requests("sendgrid")  # one POST, no SDK retry
    assert record["path"] == "/sendgrid/v3/mail/send"
    if kind == Kind.RATE_LIMITED:
        assert outcome.retry_after_s == 3.0  # the sandbox's Retry-After: 2.5 rounded up
    else:
        assert outcome.retry_after_s is None
    if kind == Kind.DELIVERED:
        assert outcome.receipt and outcome.receipt.startswith("sandbox-")


def test_sandbox_records_the_rendered_mail(clean_sandbox: SandboxServer, deps: Deps) -> None:
    event = notice(order_id="<script>alert('x')</script> & co")
    message = email_channel.CHANNEL.render(event)

    outcome = email_channel.CHANNEL.send(message, ADDRESS, deps)

    assert outcome.kind == Kind.DELIVERED
    (record,) = clean_sandbox.state.requests("sendgrid")
    assert record["status"] == 202
    sent = record["json"]
    assert sent["from"] == {"email": "alerts@example.com", "name": "Notify Alerts"}
    assert sent["personalizations"] == [{"to": [{"email": ADDRESS}]}]
    assert sent["subject"] == message.subject == FILL_TITLE
    text, html = sent["content"]
    assert text == {"type": "text/plain", "value": message.text}
    assert html == {"type": "text/html", "value": message.html}
    assert "Order: <script>alert('x')</script> & co" in text["value"]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html["value"]
    assert "<script>" not in html["value"]
    assert event.event_id in text["value"] and event.event_id in html["value"]


def test_invalid_body_is_permanent_with_sendgrids_message(
    clean_sandbox: SandboxServer, email_settings: Settings, store: Store, http: httpx.Client
) -> None:
    deps = email_deps(email_settings.model_copy(update={"email_from": ""}), store, http)

    outcome = send(deps)

    assert outcome.kind == Kind.PERMANENT
    assert outcome.detail.startswith("sendgrid HTTP 400: The from object must be provided")
    assert "(from.email)" in outcome.detail


def test_connection_refused_is_transient(
    email_settings: Settings, store: Store, http: httpx.Client
) -> None:
    closed = email_settings.model_copy(update={"sendgrid_host": closed_port_url()})

    outcome = send(email_deps(closed, store, http))

    assert outcome.kind == Kind.TRANSIENT
    assert outcome.detail == "sendgrid connection error: ConnectionRefusedError"


def test_slow_provider_times_out_as_transient(
    clean_sandbox: SandboxServer, email_settings: Settings, store: Store, http: httpx.Client
) -> None:
    clean_sandbox.state.set_switch("sendgrid", "ok", latency_ms=1500)
    hurried = email_settings.model_copy(update={"provider_timeout_s": 0.2})

    outcome = send(email_deps(hurried, store, http))

    assert outcome.kind == Kind.TRANSIENT
    assert outcome.detail == "sendgrid timeout"


def test_failure_for_a_few_requests_then_ok(clean_sandbox: SandboxServer, deps: Deps) -> None:
    clean_sandbox.state.set_switch("sendgrid", "server_error", times=2)

    kinds = [send(deps).kind for _ in range(3)]

    assert kinds == [Kind.TRANSIENT, Kind.TRANSIENT, Kind.DELIVERED]


def test_not_configured_is_permanent(
    settings: Settings, store: Store, http: httpx.Client, clean_sandbox: SandboxServer
) -> None:
    unset = settings.model_copy(update={"sendgrid_api_key": ""})
    assert email_channel.CHANNEL.build_client(unset) is None

    outcome = send(email_deps(unset, store, http))

    assert outcome.kind == Kind.PERMANENT
    assert outcome.detail == "email not configured: NOTIFY_SENDGRID_API_KEY unset"
    assert clean_sandbox.state.requests("sendgrid") == []


@pytest.mark.parametrize("address", ["not-an-address", "a@b.c\r\nBcc: x@y.z"])
def test_a_bad_address_is_permanent_and_not_sent(
    address: str, clean_sandbox: SandboxServer, deps: Deps
) -> None:
    outcome = send(deps, address=address)

    assert outcome.kind == Kind.PERMANENT
    assert clean_sandbox.state.requests("sendgrid") == []


def test_client_has_the_provider_timeout(email_settings: Settings) -> None:
    sendgrid = email_channel.CHANNEL.build_client(email_settings)
    assert sendgrid is not None
    assert sendgrid.client.timeout == email_settings.provider_timeout_s
    # The child client that mail/send builds inherits it.
    assert sendgrid.client.mail.send.timeout == email_settings.provider_timeout_s


def test_subject_is_one_line_of_at_most_200_chars() -> None:
    message = email_channel.CHANNEL.render(notice(symbol="X\r\nBcc: evil@example.com " + "Y" * 400))
    assert "\n" not in message.subject and "\r" not in message.subject
    assert len(message.subject) <= 200
    assert message.subject.endswith("…")


# The sandbox always sends Retry-After with its 429; the fallbacks are checked on the SDK's own
# error type, as python_http_client would raise it.
def _too_many(headers: dict[str, str]) -> HTTPError:
    return HTTPError(429, "Too Many Requests", b'{"errors": [{"message": "slow down"}]}', headers)


def test_rate_limit_falls_back_to_the_reset_header_then_the_default() -> None:
    reset = str(int(time.time()) + 30)
    from_reset = email_channel.classify(_too_many({"X-RateLimit-Reset": reset}))
    assert from_reset.kind == Kind.RATE_LIMITED
    assert 0 < from_reset.retry_after_s <= 30
    assert from_reset.detail == "sendgrid HTTP 429: slow down"

    bare = email_channel.classify(_too_many({}))
    assert bare.retry_after_s == email_channel.DEFAULT_RETRY_AFTER_S


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (403, Kind.PERMANENT),
        (404, Kind.PERMANENT),
        (413, Kind.PERMANENT),
        (502, Kind.TRANSIENT),
        (405, Kind.PERMANENT),
        (422, Kind.PERMANENT),
        (408, Kind.TRANSIENT),
    ],
)
def test_other_statuses(status: int, kind: Kind) -> None:
    outcome = email_channel.classify(HTTPError(status, "Reason", b"not json", {}))
    assert outcome.kind == kind
    assert outcome.detail == f"sendgrid HTTP {status}: Reason"
