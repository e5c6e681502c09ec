"""A circuit breaker per provider, shared by the workers: Discord failing for several users opens
it, and later events skip Discord straight to Slack (no provider call, no retries) until the
cool-down; then one probe goes to Discord, and its success closes the breaker."""

from __future__ import annotations

import uuid

import pytest

from client import NotifyClient, make_event
from proto import AckStatus, ChannelType
from tests.faults.stack import Stack
from tests.helpers import wait_until
from tests.test_cli import notify

pytestmark = pytest.mark.broker


@pytest.fixture
def breaker_stack(own_stack) -> Stack:
    return own_stack(
        workers=1,
        NOTIFY_BREAKER_FAILURES="3",
        NOTIFY_BREAKER_COOLDOWN_S="3",
        NOTIFY_CHANNEL_RETRIES="1",
    )


def test_the_breaker_opens_under_500s_and_closes_after_a_probe(breaker_stack, clean_sandbox):
    store = breaker_stack.store()
    users = [f"br-{uuid.uuid4().hex[:6]}" for _ in range(8)]
    for user in users:
        store.directory.update(
            user,
            discord_webhook=f"{clean_sandbox.url}/discord/api/webhooks/3/{user}",
            slack_webhook=f"{clean_sandbox.url}/slack/services/T/B/{user}",
        )
    clean_sandbox.state.set_switch("discord", "server_error")

    def deliver(batch: list) -> list:
        events = [
            make_event(user, "ORDER_FILLED", "CRITICAL", ["DISCORD", "SLACK"], {"symbol": "X"})
            for user in batch
        ]  # fmt: skip
        with NotifyClient(breaker_stack.router(), identity=uuid.uuid4().hex.encode()) as client:
            acks = [client.send(event).result(60) for event in events]
        return list(zip(events, acks, strict=True))

    first = deliver(users[:4])  # Discord fails for 4 users: the breaker opens
    assert {ChannelType.Name(a.delivered_via) for _, a in first} == {"SLACK"}
    [discord] = store.breakers.states(["DISCORD"])
    assert discord.state == "open"

    second = deliver(users[4:])  # straight to Slack: Discord is not called
    assert {(a.status, a.delivered_via) for _, a in second} == {
        (AckStatus.DELIVERED, ChannelType.SLACK)
    }
    discord_paths = [r["path"] for r in clean_sandbox.state.requests("discord")]
    assert not any(user in path for user in users[4:] for path in discord_paths)
    log = store.delivery_log.read(second[0][0].user_id, second[0][0].event_id)
    assert log[0]["skip"] == "provider_down" and "circuit open" in log[0]["detail"]
    assert "DISCORD open until" in notify(breaker_stack.env, "stats").stdout

    clean_sandbox.state.set_switch("discord", "ok")
    wait_until(
        lambda: store.breakers.states(["DISCORD"])[0].state == "half-open",
        "the cool-down to pass",
        timeout_s=10,
    )
    [(_, probe)] = deliver(users[:1])  # the probe: Discord again, and it works
    assert probe.delivered_via == ChannelType.DISCORD
    assert store.breakers.states(["DISCORD"])[0].state == "closed"
