"""channels.deliver: address lookup, "not configured", WEB presence, and nothing ever raises."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from channels import CHANNELS, Deps, Kind, Notice, Outcome, SkipCode, deliver
from proto import ChannelType, DeliverySpec, EventType, Priority, UserEvent, encode_event
from sandbox import SandboxServer, discord_webhook_url, slack_webhook_url
from store import Store, UserProfile
from tests.helpers import make_deps

WEB = CHANNELS[ChannelType.WEB]


class Published(list):
    """A publish_web that records its calls."""

    def __call__(self, user_id: str, frame: bytes) -> None:
        self.append((user_id, frame))


def broken_publish(user_id: str, frame: bytes) -> None:
    raise ConnectionError("broker down at 10.0.0.7")


def deliver_web(notice: Notice, deps: Deps) -> Outcome:
    """WEB for a user whose profile holds nothing: WEB needs no address, only presence."""
    return deliver(WEB, notice, UserProfile(notice.user_id), deps)


@pytest.fixture
def notice() -> Notice:
    user_event = UserEvent(
        user_id=f"u-{uuid.uuid4().hex[:10]}",
        event_id=f"e-{uuid.uuid4().hex[:10]}",
        timestamp=1_700_000_000_000,
        event_type=EventType.ALERT_TRIGGERED,
        payload=b'{"symbol": "BTC/USDT", "condition": "BTC > 50000", "triggered_price": "50001"}',
        delivery=DeliverySpec(priority=Priority.CRITICAL),
    )
    return Notice.from_frame(encode_event(user_event))


@pytest.fixture
def ingress_id(store: Store) -> Iterator[str]:
    name = f"test-ingress-{uuid.uuid4().hex[:8]}"
    yield name
    store.presence.refresh(name, set())


@pytest.mark.parametrize("kind", [ChannelType.DISCORD, ChannelType.SLACK], ids=ChannelType.Name)
@pytest.mark.parametrize("profile_kind", ["unknown user", "other addresses only"])
def test_no_address_is_skipped(kind: int, profile_kind: str, notice, settings, store, http) -> None:
    profile = UserProfile(user_id=notice.user_id)
    if profile_kind != "unknown user":
        profile = UserProfile(user_id=notice.user_id, email="a@b.c")

    outcome = deliver(CHANNELS[kind], notice, profile, make_deps(settings, store, http))

    assert (outcome.kind, outcome.skip) == (Kind.SKIPPED, SkipCode.NO_ADDRESS)
    assert outcome.worth_another_round is False


def test_web_without_presence_is_not_active(notice, settings, store, http) -> None:
    published = Published()

    outcome = deliver_web(notice, make_deps(settings, store, http, publish_web=published))

    assert (outcome.kind, outcome.skip) == (Kind.SKIPPED, SkipCode.NOT_ACTIVE)
    assert outcome.worth_another_round is True
    assert published == []


def test_web_with_presence_publishes_the_frame(notice, settings, store, http, ingress_id) -> None:
    store.presence.refresh(ingress_id, {notice.user_id})
    published = Published()

    outcome = deliver_web(notice, make_deps(settings, store, http, publish_web=published))

    assert outcome.kind == Kind.AWAITING_ACK, "handed over: delivered only once the browser acks"
    assert published == [(notice.user_id, notice.frame)]
    assert notice.frame[0] == 0x20


def test_web_acked_reads_the_session_servers_ack(notice, settings, store, http) -> None:
    deps = make_deps(settings, store, http)
    assert WEB.acked(notice.user_id, notice.event_id, deps) is False
    store.web_acks.record_ack(notice.user_id, notice.event_id, 60)
    assert WEB.acked(notice.user_id, notice.event_id, deps) is True


def test_web_presence_of_another_user_does_not_count(
    notice, settings, store, http, ingress_id
) -> None:
    store.presence.refresh(ingress_id, {notice.user_id + "0"})  # "u10" is not "u1"
    published = Published()

    outcome = deliver_web(notice, make_deps(settings, store, http, publish_web=published))

    assert outcome.skip == SkipCode.NOT_ACTIVE
    assert published == []


def test_a_failing_web_publish_is_transient_and_names_no_host(
    notice, settings, store, http, ingress_id
) -> None:
    store.presence.refresh(ingress_id, {notice.user_id})
    deps = make_deps(settings, store, http, publish_web=broken_publish)

    outcome = deliver_web(notice, deps)

    assert outcome.kind == Kind.TRANSIENT
    assert outcome.detail == "web publish failed: ConnectionError"


@pytest.mark.parametrize(
    ("kind", "url_of"),
    [(ChannelType.DISCORD, discord_webhook_url), (ChannelType.SLACK, slack_webhook_url)],
    ids=["DISCORD", "SLACK"],
)
def test_addressed_channel_delivers_through_the_sandbox(
    kind, url_of, notice, settings, store, http, clean_sandbox: SandboxServer
) -> None:
    channel = CHANNELS[kind]
    url = url_of(clean_sandbox.url, notice.user_id)
    profile = store.directory.update(notice.user_id, **{channel.address_spec.field: url})

    outcome = deliver(channel, notice, profile, make_deps(settings, store, http))

    assert outcome.kind == Kind.DELIVERED
    (record,) = clean_sandbox.state.requests(channel.sandbox)
    assert "BTC > 50000" in record["summary"] or "BTC > 50000" in str(record["json"])


def test_an_error_inside_a_channel_becomes_transient(notice, settings, store, http) -> None:
    # A Notice whose payload is not a dict breaks nothing outside: rendering falls back, and
    # anything that still raises inside the channel is caught by deliver.
    odd = Notice(notice.user_id, notice.event_id, notice.event_type, notice.priority, payload=None)  # type: ignore[arg-type]
    profile = UserProfile(user_id=notice.user_id, discord_webhook="http://127.0.0.1:9/x")

    outcome = deliver(CHANNELS[ChannelType.DISCORD], odd, profile, make_deps(settings, store, http))

    assert isinstance(outcome, Outcome)
    assert outcome.kind == Kind.TRANSIENT


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        (ChannelType.EMAIL, "email not configured: NOTIFY_SENDGRID_API_KEY unset"),
        (ChannelType.PUSH, "push not configured: NOTIFY_FCM_CREDENTIALS unset"),
        (ChannelType.TELEGRAM, "telegram not configured: NOTIFY_TELEGRAM_TOKEN unset"),
    ],
)
def test_a_provider_without_client_is_permanent(
    kind: int, detail: str, notice, settings, store, http, clean_sandbox: SandboxServer
) -> None:
    profile = UserProfile(
        user_id=notice.user_id, email="a@b.c", push_tokens=("t",), telegram_chat="42"
    )

    outcome = deliver(CHANNELS[kind], notice, profile, make_deps(settings, store, http))

    assert (outcome.kind, outcome.detail) == (Kind.PERMANENT, detail)
    assert clean_sandbox.state.requests() == []


def test_a_webhook_channel_turned_off_is_permanent_and_calls_nobody(
    notice, settings, store, http, clean_sandbox: SandboxServer
) -> None:
    off = settings.model_copy(update={"channels_off": "DISCORD"})
    url = discord_webhook_url(clean_sandbox.url, notice.user_id)
    profile = UserProfile(user_id=notice.user_id, discord_webhook=url)

    outcome = deliver(CHANNELS[ChannelType.DISCORD], notice, profile, make_deps(off, store, http))

    assert (outcome.kind, outcome.detail) == (Kind.PERMANENT, "discord is off: NOTIFY_CHANNELS_OFF")
    assert clean_sandbox.state.requests() == []
