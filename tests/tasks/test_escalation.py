"""Escalation policy and the ACK_ERROR text.

Pure functions: no broker is touched (building a signature sends nothing). Delays are checked
against their bounds, never against a clock.
"""

from __future__ import annotations

import json

import pytest

from channels import Outcome, SkipCode
from proto import Priority
from tasks.contract import Job
from tasks.escalation import (
    MAX_COUNTDOWN_S,
    MAX_ROUND_BACKOFF_S,
    give_up_at,
    retry_delay,
    round_backoff_s,
)
from tasks.finish import error_message

NOW = 1_700_000_000.0
FAR = NOW + 86_400
SAMPLES = 200  # jitter is random: every sample must stay within the bounds

# -- retry_delay ---------------------------------------------------------------------------------

#: (tries, base_s, lowest, highest)
BACKOFF = [
    (0, 2.0, 1.0, 2.0),
    (1, 2.0, 2.0, 4.0),
    (2, 2.0, 4.0, 8.0),
    (3, 0.1, 0.4, 0.8),
    (4, 2.0, 16.0, 32.0),
    (5, 2.0, 30.0, 60.0),  # 64 is capped at 60 before the jitter
    (9, 10.0, 30.0, 60.0),
]


@pytest.mark.parametrize(("tries", "base_s", "lowest", "highest"), BACKOFF)
def test_transient_backs_off_exponentially_with_jitter(tries, base_s, lowest, highest) -> None:
    delays = [
        retry_delay(Outcome.transient("5xx"), tries, 100, base_s, NOW, FAR) for _ in range(SAMPLES)
    ]
    assert all(d is not None and lowest <= d <= highest for d in delays), (min(delays), max(delays))
    assert all(d <= MAX_COUNTDOWN_S for d in delays)
    assert len(set(delays)) > 1  # jittered, not a fixed value


@pytest.mark.parametrize("retry_after", [0.0, 2.5, 7.0, 59.0])
def test_rate_limited_waits_the_providers_retry_after(retry_after: float) -> None:
    outcome = Outcome.rate_limited("429", retry_after)
    assert retry_delay(outcome, 0, 3, 2.0, NOW, FAR) == retry_after


def test_rate_limited_with_a_negative_retry_after_waits_zero() -> None:
    assert retry_delay(Outcome.rate_limited("429", -4.0), 0, 3, 2.0, NOW, FAR) == 0.0


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.permanent("404"),
        Outcome.delivered(),
        *(Outcome.skipped(code, "x") for code in SkipCode),
    ],
    ids=lambda o: f"{o.kind}-{o.skip}",
)
def test_permanent_delivered_and_skipped_never_retry(outcome: Outcome) -> None:
    assert retry_delay(outcome, 0, 3, 2.0, NOW, FAR) is None


@pytest.mark.parametrize(
    "outcome",
    [Outcome.transient("5xx"), Outcome.rate_limited("429", 1.0)],
    ids=["transient", "rate_limited"],
)
@pytest.mark.parametrize(
    ("tries", "max_tries", "retried"),
    [(0, 3, True), (2, 3, True), (3, 3, False), (4, 3, False), (0, 0, False)],
)
def test_budget_of_tries(outcome: Outcome, tries: int, max_tries: int, retried: bool) -> None:
    delay = retry_delay(outcome, tries, max_tries, 0.1, NOW, FAR)
    assert (delay is not None) is retried


@pytest.mark.parametrize(
    ("outcome", "deadline"),
    [
        (Outcome.transient("5xx"), NOW + 0.5),  # even the lowest backoff (1 s) passes it
        (Outcome.transient("5xx"), NOW),
        (Outcome.transient("5xx"), NOW - 10),
        (Outcome.rate_limited("429", 30.0), NOW + 29.0),
        (Outcome.rate_limited("429", 30.0), NOW + 30.0),
    ],
)
def test_no_retry_past_the_deadline(outcome: Outcome, deadline: float) -> None:
    assert retry_delay(outcome, 0, 3, 2.0, NOW, deadline) is None


def test_retry_just_before_the_deadline() -> None:
    assert retry_delay(Outcome.rate_limited("429", 30.0), 0, 3, 2.0, NOW, NOW + 30.5) == 30.0


# -- round_backoff_s and give_up_at --------------------------------------------------------------


@pytest.mark.parametrize(
    ("round_no", "base_s", "expected"),
    [
        (0, 30.0, 30.0),
        (1, 30.0, 60.0),
        (2, 30.0, 120.0),
        (6, 30.0, 1920.0),
        (7, 30.0, 3600.0),
        (40, 30.0, 3600.0),
        (3, 0.5, 4.0),
    ],
)
def test_round_backoff_grows_and_is_capped(round_no: int, base_s: float, expected: float) -> None:
    assert round_backoff_s(round_no, base_s) == expected
    assert round_backoff_s(round_no, base_s) <= MAX_ROUND_BACKOFF_S


def test_round_backoff_never_shrinks() -> None:
    pauses = [round_backoff_s(n, 30.0) for n in range(20)]
    assert pauses == sorted(pauses)


@pytest.mark.parametrize(
    ("priority", "expected"),
    [(Priority.NORMAL, 1_000.0 + 600), (Priority.CRITICAL, 1_000.0 + 86_400)],
)
def test_give_up_at_counts_from_receipt(priority: int, expected: float) -> None:
    job = Job(b"", "u", "e", priority, "i", b"r", received_ms=1_000_000, plan=())
    assert give_up_at(job, normal_ttl_s=600, critical_deadline_s=86_400) == expected


# -- error_message -------------------------------------------------------------------------------


def outcome_of(channel: str, outcome: Outcome) -> dict:
    return {"channel": channel, **outcome.as_dict()}


def test_all_no_address_names_the_channels() -> None:
    outcomes = [
        outcome_of("DISCORD", Outcome.skipped(SkipCode.NO_ADDRESS, "no discord_webhook for user")),
        outcome_of("SLACK", Outcome.skipped(SkipCode.NO_ADDRESS, "no slack_webhook for user")),
    ]
    assert error_message(outcomes) == "no address for any requested channel: DISCORD, SLACK"
    # Also after a trip through JSON (the carry crosses Celery as plain data).
    assert error_message(json.loads(json.dumps(outcomes))) == (
        "no address for any requested channel: DISCORD, SLACK"
    )


def test_each_channels_reason_in_plan_order() -> None:
    outcomes = [
        outcome_of("DISCORD", Outcome.permanent("discord HTTP 404: Unknown Webhook")),
        outcome_of("SLACK", Outcome.skipped(SkipCode.NO_ADDRESS, "no slack_webhook for user")),
        outcome_of("WEB", Outcome.skipped(SkipCode.NOT_ACTIVE, "no live web session")),
        outcome_of("TELEGRAM", Outcome.transient("telegram timeout")),
    ]
    message = error_message(outcomes)
    assert message == (
        "DISCORD: permanent (discord HTTP 404: Unknown Webhook); "
        "SLACK: skipped (no slack_webhook for user); "
        "WEB: skipped (no live web session); "
        "TELEGRAM: transient (telegram timeout)"
    )


def test_no_outcomes_at_all() -> None:
    assert error_message([]) == "no channel to try"


def test_every_channel_ever_tried_is_named_in_the_final_error() -> None:
    from tasks.finish import error_message, latest_per_channel

    round0 = [
        {"channel": "TELEGRAM", "kind": "permanent", "detail": "blocked", "skip": None},
        {
            "channel": "WEB",
            "kind": "skipped",
            "detail": "no live web session",
            "skip": "not_active",
        },
    ]
    round1 = [
        {"channel": "WEB", "kind": "skipped", "detail": "no ack within 30s", "skip": "not_active"}
    ]
    merged = latest_per_channel(round0, round1)
    assert error_message(merged) == (
        "TELEGRAM: permanent (blocked); WEB: skipped (no ack within 30s)"
    )


def test_no_address_is_named_first_when_nothing_could_be_tried() -> None:
    from tasks.finish import error_message

    outcomes = [
        {
            "channel": "ACTIVE_SESSION",
            "kind": "skipped",
            "detail": "no live session on any channel",
            "skip": "not_active",
        },
        {
            "channel": "TELEGRAM",
            "kind": "skipped",
            "detail": "no telegram_chat for user",
            "skip": "no_address",
        },
        {
            "channel": "EMAIL",
            "kind": "skipped",
            "detail": "no email for user",
            "skip": "no_address",
        },
    ]
    assert error_message(outcomes) == (
        "no address for any requested channel: TELEGRAM, EMAIL; "
        "ACTIVE_SESSION: skipped (no live session on any channel)"
    )


def test_an_ack_error_never_names_a_host_or_a_url() -> None:
    outcomes = [
        outcome_of(
            "DISCORD",
            Outcome.transient("connect to https://discord.com/api/webhooks/1/SECRET failed"),
        ),
        outcome_of("EMAIL", Outcome.transient("sendgrid at 10.0.3.7:8443 refused")),
        outcome_of("PUSH", Outcome.transient("fcm via fcm.internal.corp:443 reset")),
    ]
    message = error_message(outcomes)
    assert "SECRET" not in message and "discord.com" not in message
    assert "10.0.3.7" not in message and "fcm.internal.corp" not in message
    assert message.count("<host>") == 3
