"""Discord and Slack channels against the sandbox webhooks, table-driven over its switches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from channels import Deps, Kind, Outcome
from channels import discord as discord_channel
from channels import slack as slack_channel
from sandbox import SandboxServer, discord_webhook_url, slack_webhook_url
from settings import Settings
from store import Store
from tests.helpers import FILL_TITLE, closed_port_url, make_deps, make_notice, wait_until


@dataclass(frozen=True)
class Provider:
    name: str
    module: object
    webhook_url: Callable[[str, str], str]
    permanent_reason: str
    rate_limit_s: float  # what a 429 with retry_after=2.5 gives


# Discord's JSON body keeps 2.5 exactly (its Retry-After header is rounded up to 3); Slack has
# only the header.
DISCORD = Provider("discord", discord_channel, discord_webhook_url, "Unknown Webhook", 2.5)
SLACK = Provider("slack", slack_channel, slack_webhook_url, "no_service", 3.0)
PROVIDERS = [pytest.param(DISCORD, id="discord"), pytest.param(SLACK, id="slack")]

#: switch mode -> expected outcome kind
CASES = [
    ("ok", Kind.DELIVERED),
    ("rate_limit", Kind.RATE_LIMITED),
    ("server_error", Kind.TRANSIENT),
    ("permanent", Kind.PERMANENT),
]


@pytest.fixture
def deps(settings: Settings, store: Store, http: httpx.Client) -> Deps:
    return make_deps(settings, store, http)


def send(provider: Provider, url: str, deps: Deps) -> Outcome:
    """Render a CRITICAL ORDER_FILLED (titled FILL_TITLE) and send it to `url`."""
    module = provider.module
    return module.CHANNEL.send(module.CHANNEL.render(make_notice()), url, deps)  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("mode", "kind"), CASES)
def test_switch_maps_to_outcome(
    provider: Provider, mode: str, kind: Kind, clean_sandbox: SandboxServer, deps: Deps
) -> None:
    clean_sandbox.state.set_switch(provider.name, mode, retry_after=2.5)
    url = provider.webhook_url(clean_sandbox.url, f"{provider.name}-{mode}")

    outcome = send(provider, url, deps)

    assert outcome.kind == kind, outcome
    assert url not in outcome.detail
    assert url.rsplit("/", 1)[-1] not in outcome.detail  # not even the token
    (record,) = clean_sandbox.state.requests(provider.name)
    assert record["path"] == url.removeprefix(clean_sandbox.url)
    if kind == Kind.RATE_LIMITED:
        assert outcome.retry_after_s == provider.rate_limit_s
    else:
        assert outcome.retry_after_s is None
    if kind == Kind.PERMANENT:
        assert provider.permanent_reason in outcome.detail
    if kind in (Kind.TRANSIENT, Kind.PERMANENT, Kind.RATE_LIMITED):
        assert provider.name in outcome.detail


def test_discord_rate_limit_keeps_the_exact_retry_after(
    clean_sandbox: SandboxServer, deps: Deps
) -> None:
    clean_sandbox.state.set_switch("discord", "rate_limit", retry_after=2.5)
    outcome = send(DISCORD, discord_webhook_url(clean_sandbox.url, "exact"), deps)
    assert outcome.kind == Kind.RATE_LIMITED
    assert outcome.retry_after_s == 2.5


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_refused_is_transient(provider: Provider, deps: Deps) -> None:
    url = provider.webhook_url(closed_port_url(), "closed")

    outcome = send(provider, url, deps)

    assert outcome.kind == Kind.TRANSIENT
    assert "connection error" in outcome.detail
    assert url not in outcome.detail
    assert "127.0.0.1" not in outcome.detail


@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_provider_times_out_as_transient(
    provider: Provider, clean_sandbox: SandboxServer, settings: Settings, store: Store
) -> None:
    clean_sandbox.state.set_switch(provider.name, "ok", latency_ms=500)
    url = provider.webhook_url(clean_sandbox.url, "slow")
    with httpx.Client(timeout=0.05) as http:
        outcome = send(provider, url, make_deps(settings, store, http))

    assert outcome.kind == Kind.TRANSIENT
    assert "timeout" in outcome.detail
    assert url not in outcome.detail
    # The sandbox records the request once its latency is over: wait for it, so that the
    # late record does not land in the next test's clean sandbox.
    wait_until(lambda: clean_sandbox.state.requests(provider.name), "the late record", 5)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unparsable_address_is_permanent(provider: Provider, deps: Deps) -> None:
    outcome = send(provider, "http://[::1", deps)
    assert outcome.kind == Kind.PERMANENT
    assert "[::1" not in outcome.detail


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("address", ["not a url at all", "ftp://hooks.example/x", "http://"])
def test_an_address_that_is_not_http_is_permanent(
    provider: Provider, address: str, deps: Deps
) -> None:
    outcome = send(provider, address, deps)
    assert outcome.kind == Kind.PERMANENT
    assert address not in outcome.detail


def test_discord_sandbox_sees_the_rendered_embed(clean_sandbox: SandboxServer, deps: Deps) -> None:
    body = discord_channel.CHANNEL.render(make_notice())

    outcome = discord_channel.CHANNEL.send(
        body, discord_webhook_url(clean_sandbox.url, "embed"), deps
    )

    assert outcome.kind == Kind.DELIVERED
    (record,) = clean_sandbox.state.requests("discord")
    assert record["status"] == 204
    sent = record["json"]
    assert sent["embeds"][0]["title"] == body["embeds"][0]["title"] == FILL_TITLE
    assert sent["content"] == FILL_TITLE
    assert sent["allowed_mentions"] == {"parse": []}
    assert "Order: o-1" in sent["embeds"][0]["description"]


def test_slack_sandbox_sees_fallback_text_and_blocks(
    clean_sandbox: SandboxServer, deps: Deps
) -> None:
    body = slack_channel.CHANNEL.render(make_notice())

    outcome = slack_channel.CHANNEL.send(body, slack_webhook_url(clean_sandbox.url, "blocks"), deps)

    assert outcome.kind == Kind.DELIVERED
    (record,) = clean_sandbox.state.requests("slack")
    assert record["status"] == 200
    sent = record["json"]
    assert FILL_TITLE in sent["text"]
    assert sent["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": FILL_TITLE},
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_failure_for_a_few_requests_then_ok(
    provider: Provider, clean_sandbox: SandboxServer, deps: Deps
) -> None:
    clean_sandbox.state.set_switch(provider.name, "server_error", times=2)
    url = provider.webhook_url(clean_sandbox.url, "flaky")

    kinds = [send(provider, url, deps).kind for _ in range(3)]

    assert kinds == [Kind.TRANSIENT, Kind.TRANSIENT, Kind.DELIVERED]
    assert [r["status"] for r in clean_sandbox.state.requests(provider.name)][-1] in (200, 204)
