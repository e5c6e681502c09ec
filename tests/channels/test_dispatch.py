"""attempt_channel: address lookup, unsupported channels, WEB presence, and nothing ever raises."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from channels import ADDRESSED_CHANNELS, Deps, Kind, Notice, Outcome, SkipCode, attempt_channel, web
from proto import DeliverySpec, EventType, Priority, UserEvent, encode_event
from sandbox import SandboxServer, discord_webhook_url, slack_webhook_url
from settings import Settings
from store import Store, UserProfile


class Published(list):
    """A publish_web that records its calls."""

    def __call__(self, user_id: str, frame: bytes) -> None:
        self.append((user_id, frame))


def broken_publish(user_id: str, frame: bytes) -> None:
    raise ConnectionError("broker down")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def make_deps(settings: Settings, store: Store, http: httpx.Client, publish=None) -> Deps:
    return Deps(
        settings=settings,
        store=store,
        http=http,
        publish_web=publish if publish is not None else Published(),
    )


@pytest.fixture
def event() -> tuple[Notice, bytes]:
    user_event = UserEvent(
        user_id=f"u-{uuid.uuid4().hex[:10]}",
        event_id=f"e-{uuid.uuid4().hex[:10]}",
        timestamp=1_700_000_000_000,
        event_type=EventType.ALERT_TRIGGERED,
        payload=b'{"symbol": "BTC/USDT", "condition": "BTC > 50000", "triggered_price": "50001"}',
        delivery=DeliverySpec(priority=Priority.CRITICAL),
    )
    return Notice.from_event(user_event), encode_event(user_event)


@pytest.fixture
def ingress_id(store: Store) -> Iterator[str]:
    name = f"test-ingress-{uuid.uuid4().hex[:8]}"
    yield name
    store.client.delete(store.keys.presence(name))
    store.client.zrem(store.keys.ingresses(), name)


@pytest.mark.parametrize("channel", ["DISCORD", "SLACK"])
@pytest.mark.parametrize("profile_kind", ["none", "empty"])
def test_no_address_is_skipped(
    channel: str, profile_kind: str, event, settings, store, http
) -> None:
    notice, frame = event
    profile = None if profile_kind == "none" else UserProfile(user_id=notice.user_id, email="a@b.c")

    outcome = attempt_channel(channel, notice, frame, profile, make_deps(settings, store, http))

    assert (outcome.kind, outcome.skip) == (Kind.SKIPPED, SkipCode.NO_ADDRESS)
    assert outcome.worth_another_round is False


@pytest.mark.parametrize("channel", ["ACTIVE_SESSION", "CARRIER_PIGEON"])
def test_unsupported_channels_are_skipped(channel: str, event, settings, store, http) -> None:
    notice, frame = event
    profile = UserProfile(
        user_id=notice.user_id, email="a@b.c", telegram_chat="42", push_tokens=("t",)
    )

    outcome = attempt_channel(channel, notice, frame, profile, make_deps(settings, store, http))

    assert (outcome.kind, outcome.skip) == (Kind.SKIPPED, SkipCode.UNSUPPORTED)
    assert channel in outcome.detail


def test_web_without_presence_is_not_active(event, settings, store, http) -> None:
    notice, frame = event
    published = Published()

    outcome = web.publish(frame, notice.user_id, make_deps(settings, store, http, published))

    assert (outcome.kind, outcome.skip) == (Kind.SKIPPED, SkipCode.NOT_ACTIVE)
    assert outcome.worth_another_round is True
    assert published == []


def test_web_with_presence_publishes_the_frame(event, settings, store, http, ingress_id) -> None:
    notice, frame = event
    store.presence.refresh(ingress_id, {notice.user_id})
    published = Published()

    outcome = web.publish(frame, notice.user_id, make_deps(settings, store, http, published))

    assert outcome is None, "handed over: delivered only once the browser acks"
    assert published == [(notice.user_id, frame)]
    assert frame[0] == 0x20


def test_web_acked_reads_the_session_servers_ack(event, settings, store, http) -> None:
    notice, _ = event
    deps = make_deps(settings, store, http)
    assert web.acked(notice.user_id, notice.event_id, deps) is False
    store.client.set(store.keys.web_ack(notice.user_id, notice.event_id), "1", ex=60)
    assert web.acked(notice.user_id, notice.event_id, deps) is True


def test_web_presence_of_another_user_does_not_count(
    event, settings, store, http, ingress_id
) -> None:
    notice, frame = event
    store.presence.refresh(ingress_id, {notice.user_id + "0"})  # "u10" is not "u1"
    published = Published()

    outcome = web.publish(frame, notice.user_id, make_deps(settings, store, http, published))

    assert outcome.skip == SkipCode.NOT_ACTIVE
    assert published == []


def test_a_failing_web_publish_is_transient(event, settings, store, http, ingress_id) -> None:
    notice, frame = event
    store.presence.refresh(ingress_id, {notice.user_id})

    outcome = web.publish(frame, notice.user_id, make_deps(settings, store, http, broken_publish))

    assert outcome.kind == Kind.TRANSIENT
    assert "broker down" in outcome.detail


@pytest.mark.parametrize(
    ("channel", "field", "url_of"),
    [
        ("DISCORD", "discord_webhook", discord_webhook_url),
        ("SLACK", "slack_webhook", slack_webhook_url),
    ],
)
def test_addressed_channel_delivers_through_the_sandbox(
    channel, field, url_of, event, settings, store, http, clean_sandbox: SandboxServer
) -> None:
    notice, frame = event
    assert ADDRESSED_CHANNELS[channel][1] == field
    url = url_of(clean_sandbox.url, notice.user_id)
    profile = store.directory.update(notice.user_id, **{field: url})

    outcome = attempt_channel(channel, notice, frame, profile, make_deps(settings, store, http))

    assert outcome.kind == Kind.DELIVERED
    (record,) = clean_sandbox.state.requests(channel.lower())
    assert "BTC > 50000" in record["summary"] or "BTC > 50000" in str(record["json"])


def test_an_error_inside_a_channel_becomes_transient(event, settings, store, http) -> None:
    notice, frame = event
    # A Notice whose payload is not a dict breaks nothing outside: rendering falls back, and
    # anything that still raises inside the channel is caught by attempt_channel.
    odd = Notice(notice.user_id, notice.event_id, notice.event_type, notice.priority, payload=None)  # type: ignore[arg-type]
    profile = UserProfile(user_id=notice.user_id, discord_webhook="http://127.0.0.1:9/x")

    outcome = attempt_channel("DISCORD", odd, frame, profile, make_deps(settings, store, http))

    assert isinstance(outcome, Outcome)
    assert outcome.kind == Kind.TRANSIENT


@pytest.mark.parametrize(
    ("channel", "words"), [("EMAIL", "email not configured"), ("PUSH", "push not configured")]
)
def test_a_provider_without_client_is_permanent(
    channel: str, words: str, event, settings, store, http
) -> None:
    notice, frame = event
    profile = UserProfile(user_id=notice.user_id, email="a@b.c", push_tokens=("t",))

    outcome = attempt_channel(channel, notice, frame, profile, make_deps(settings, store, http))

    assert outcome.kind == Kind.PERMANENT
    assert words in outcome.detail
