"""Push channel through the real pyfcm and google-auth against the sandbox (FCM v1 and its OAuth
token endpoint), table-driven over the sandbox switches and its special tokens."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from channels import Deps, Kind, Notice, Outcome, SkipCode, deliver
from channels import push as push_channel
from proto import ChannelType
from sandbox import PROJECT_ID, SandboxServer, fcm_endpoint, service_account_file
from settings import Settings
from store import Store, UserProfile
from tasks.effects import apply_effects
from tests.helpers import closed_port_url, make_deps, make_notice, unique

GOOD = "device-good-0123456789"
OTHER = "device-other-0123456789"
GONE = "unregistered-device-0123456789"
BAD = "invalid-device-0123456789"


#: An ORDER_FILLED without price or exchange: its push title is "Order filled — BUY 0.5 BTC/USDT".
FILL = {"side": "buy", "fill_quantity": "0.5", "symbol": "BTC/USDT", "order_id": "o-1"}


def notice(user_id: str) -> Notice:
    return make_notice(payload=FILL, user_id=user_id)


@pytest.fixture
def push_settings(settings: Settings, clean_sandbox: SandboxServer, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "fcm_credentials": str(service_account_file(clean_sandbox.url, tmp_path)),
            "fcm_project_id": PROJECT_ID,
            "fcm_endpoint": fcm_endpoint(clean_sandbox.url),
        }
    )


def push_deps(settings: Settings, store: Store, http: httpx.Client) -> Deps:
    """Deps with the FCM client these settings build (none when unconfigured)."""
    client = push_channel.CHANNEL.build_client(settings)
    return make_deps(settings, store, http, clients={ChannelType.PUSH: client})


@pytest.fixture
def deps(push_settings: Settings, store: Store, http: httpx.Client) -> Deps:
    return push_deps(push_settings, store, http)


@pytest.fixture
def user(store: Store):
    """A fresh user whose profile holds the given tokens; returns the user id."""

    def make(*tokens: str) -> str:
        user_id = unique("u")
        store.directory.put(UserProfile(user_id=user_id, push_tokens=tokens))
        return user_id

    return make


def push(deps: Deps, user_id: str, tokens: tuple[str, ...]) -> Outcome:
    """As a task does it: deliver on PUSH, then apply the outcome's effects to the profile."""
    profile = UserProfile(user_id=user_id, push_tokens=tokens)
    outcome = deliver(push_channel.CHANNEL, notice(user_id), profile, deps)
    apply_effects(push_channel.CHANNEL, user_id, outcome, deps.store)
    return outcome


#: (tokens, fcm switch mode, outcome kind, tokens left in the profile, text in the detail)
CASES = [
    pytest.param((GOOD,), "ok", Kind.DELIVERED, (GOOD,), "delivered", id="ok"),
    pytest.param(
        (GOOD, GONE),
        "ok",
        Kind.DELIVERED,
        (GOOD,),
        "unregist…: fcm HTTP 404 UNREGISTERED",
        id="good+unregistered",
    ),
    pytest.param((GONE,), "ok", Kind.PERMANENT, (), "(unregistered)", id="unregistered"),
    pytest.param(
        (BAD,), "ok", Kind.PERMANENT, (BAD,), "fcm HTTP 400 INVALID_ARGUMENT", id="invalid"
    ),
    pytest.param(
        (GOOD,),
        "rate_limit",
        Kind.RATE_LIMITED,
        (GOOD,),
        "fcm HTTP 429 QUOTA_EXCEEDED",
        id="rate_limit",
    ),
    pytest.param(
        (GOOD,),
        "server_error",
        Kind.TRANSIENT,
        (GOOD,),
        "fcm HTTP 500 INTERNAL",
        id="server_error",
    ),
    pytest.param(
        (GOOD,),
        "permanent",
        Kind.PERMANENT,
        (GOOD,),
        "fcm HTTP 403 SENDER_ID_MISMATCH",
        id="permanent",
    ),
]


@pytest.mark.parametrize(("tokens", "mode", "kind", "left", "detail"), CASES)
def test_switch_and_token_map_to_outcome(
    tokens: tuple[str, ...],
    mode: str,
    kind: Kind,
    left: tuple[str, ...],
    detail: str,
    clean_sandbox: SandboxServer,
    deps: Deps,
    store: Store,
    user,
) -> None:
    user_id = user(*tokens)
    clean_sandbox.state.set_switch("fcm", mode, retry_after=2.5)

    outcome = push(deps, user_id, tokens)

    assert outcome.kind == kind, outcome
    assert detail in outcome.detail
    assert store.directory.get(user_id).push_tokens == left
    for token in tokens:  # details show a token's first 8 characters only
        assert token not in outcome.detail
    # One POST per token: neither pyfcm's sleep-and-resend nor adapter retries.
    sent = clean_sandbox.state.requests("fcm")
    assert [r["json"]["message"]["token"] for r in sent] == list(tokens)
    assert all(r["path"] == f"/fcm/v1/projects/{PROJECT_ID}/messages:send" for r in sent)
    (token_request,) = clean_sandbox.state.requests("oauth")  # google-auth asked the sandbox
    assert token_request["status"] == 200
    assert token_request["json"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    if kind == Kind.RATE_LIMITED:
        assert outcome.retry_after_s == 3.0  # Retry-After: 2.5 rounded up
    else:
        assert outcome.retry_after_s is None
    if kind == Kind.DELIVERED:
        assert outcome.receipt.startswith(f"projects/{PROJECT_ID}/messages/")


def test_sandbox_records_the_rendered_push(clean_sandbox: SandboxServer, deps: Deps) -> None:
    event = notice("u-render")
    message = push_channel.CHANNEL.render(event)

    outcome = push_channel.CHANNEL.send(message, (GOOD,), deps)

    assert outcome.kind == Kind.DELIVERED
    (record,) = clean_sandbox.state.requests("fcm")
    sent = record["json"]["message"]
    assert sent["token"] == GOOD
    assert sent["notification"] == {"title": message.title, "body": message.body}
    assert message.title == "Order filled — BUY 0.5 BTC/USDT"
    assert "Order: o-1" in message.body
    assert sent["data"] == {
        "event_id": event.event_id,
        "event_type": "ORDER_FILLED",
        "priority": "CRITICAL",
        "user_id": "u-render",
    }
    assert sent["android"] == {"priority": "high"}
    assert record["json"]["validate_only"] is False


def test_rate_limited_beats_unregistered_and_the_token_is_still_removed(
    clean_sandbox: SandboxServer, deps: Deps, store: Store, user
) -> None:
    user_id = user(GOOD, GONE)
    clean_sandbox.state.set_switch("fcm", "rate_limit", retry_after=4, times=1)

    outcome = push(deps, user_id, (GOOD, GONE))

    assert outcome.kind == Kind.RATE_LIMITED
    assert outcome.retry_after_s == 4.0
    assert "device-g…: fcm HTTP 429" in outcome.detail
    assert "unregist…: fcm HTTP 404 UNREGISTERED" in outcome.detail
    assert store.directory.get(user_id).push_tokens == (GOOD,)


def test_transient_beats_permanent(clean_sandbox: SandboxServer, deps: Deps, user) -> None:
    user_id = user(GOOD, BAD)
    clean_sandbox.state.set_switch("fcm", "server_error", times=1)

    outcome = push(deps, user_id, (GOOD, BAD))

    assert outcome.kind == Kind.TRANSIENT
    assert outcome.detail.startswith("push failed on 2 devices: ")


#: OAuth switch mode -> (outcome kind, text in the detail). The token request failing is the
#: sender's problem: nothing is sent to FCM and the other tokens are not tried.
OAUTH_CASES = [
    (
        "permanent",
        Kind.PERMANENT,
        "fcm oauth token HTTP 400: invalid_grant: Invalid JWT Signature.",
    ),
    ("server_error", Kind.TRANSIENT, "fcm oauth token HTTP 500: internal_failure"),
    ("rate_limit", Kind.RATE_LIMITED, "fcm oauth token HTTP 429: rate_limit_exceeded"),
]


@pytest.mark.parametrize(("mode", "kind", "detail"), OAUTH_CASES)
def test_oauth_failure_maps_to_outcome(
    mode: str, kind: Kind, detail: str, clean_sandbox: SandboxServer, deps: Deps, user
) -> None:
    user_id = user(GOOD, OTHER)
    clean_sandbox.state.set_switch("oauth", mode, retry_after=2)

    outcome = push(deps, user_id, (GOOD, OTHER))

    assert outcome.kind == kind, outcome
    assert detail in outcome.detail
    assert "device-o…: not tried" in outcome.detail
    assert clean_sandbox.state.requests("fcm") == []
    # One token request: google-auth's own retries with backoff are cut short.
    (token_request,) = clean_sandbox.state.requests("oauth")
    assert token_request["status"] in (400, 429, 500)
    if kind == Kind.RATE_LIMITED:
        assert outcome.retry_after_s == 2.0


def test_after_an_oauth_failure_the_next_attempt_fetches_a_token_again(
    clean_sandbox: SandboxServer, deps: Deps, user
) -> None:
    user_id = user(GOOD)
    clean_sandbox.state.set_switch("oauth", "server_error", times=1)

    kinds = [push(deps, user_id, (GOOD,)).kind for _ in range(3)]

    assert kinds == [Kind.TRANSIENT, Kind.DELIVERED, Kind.DELIVERED]
    # The token is cached once fetched: two token requests for three pushes.
    assert [r["status"] for r in clean_sandbox.state.requests("oauth")] == [500, 200]


def test_fcm_connection_refused_is_transient(
    push_settings: Settings, store: Store, http: httpx.Client, user
) -> None:
    closed = push_settings.model_copy(update={"fcm_endpoint": closed_port_url()})
    user_id = user(GOOD)

    outcome = push(push_deps(closed, store, http), user_id, (GOOD,))

    assert outcome.kind == Kind.TRANSIENT
    assert "fcm connection error" in outcome.detail


def test_slow_fcm_times_out_as_transient(
    clean_sandbox: SandboxServer, push_settings: Settings, store: Store, http: httpx.Client, user
) -> None:
    clean_sandbox.state.set_switch("fcm", "ok", latency_ms=1500)
    hurried = push_settings.model_copy(update={"provider_timeout_s": 0.2})
    user_id = user(GOOD)

    outcome = push(push_deps(hurried, store, http), user_id, (GOOD,))

    assert outcome.kind == Kind.TRANSIENT
    assert "fcm timeout" in outcome.detail


def test_no_tokens_is_skipped_no_address(deps: Deps, clean_sandbox: SandboxServer) -> None:
    outcome = push(deps, "u-none", ())

    assert outcome.kind == Kind.SKIPPED
    assert outcome.skip == SkipCode.NO_ADDRESS
    assert clean_sandbox.state.requests() == []


def test_not_configured_is_permanent(
    settings: Settings, store: Store, http: httpx.Client, clean_sandbox: SandboxServer
) -> None:
    unset = settings.model_copy(update={"fcm_credentials": ""})
    assert push_channel.CHANNEL.build_client(unset) is None

    outcome = push(push_deps(unset, store, http), "u-unset", (GOOD,))

    assert outcome.kind == Kind.PERMANENT
    assert outcome.detail.startswith("push not configured")
    assert clean_sandbox.state.requests() == []


def test_a_missing_credentials_file_fails_at_build_time(
    push_settings: Settings, tmp_path: Path
) -> None:
    missing = push_settings.model_copy(update={"fcm_credentials": str(tmp_path / "nope.json")})
    with pytest.raises(ValueError, match="NOTIFY_FCM_CREDENTIALS"):
        push_channel.CHANNEL.build_client(missing)


def test_client_uses_the_configured_endpoint_and_timeout(push_settings: Settings) -> None:
    client = push_channel.CHANNEL.build_client(push_settings)
    assert client.fcm_end_point == (
        f"{push_settings.fcm_endpoint}/v1/projects/{PROJECT_ID}/messages:send"
    )
    assert client.timeout_s == push_settings.provider_timeout_s
    adapter = client.requests_session.get_adapter("http://example.com")
    assert adapter.max_retries.total == 0


def test_render_clips_long_text_and_keeps_data_strings() -> None:
    event = make_notice("STRATEGY_LOG", "NORMAL", {"strategy_name": "s", "message": "é" * 5000})
    message = push_channel.CHANNEL.render(event)
    assert len(message.title.encode()) <= push_channel.MAX_TITLE_BYTES
    assert message.title.endswith("…")
    assert all(isinstance(v, str) for v in message.data.values())
    assert message.data["priority"] == "NORMAL"
