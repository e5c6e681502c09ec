"""Escalation policy, the channel plan, the chain of one round, and the ACK_ERROR text.

Pure functions: no broker is touched (building a signature sends nothing). Delays are checked
against their bounds, never against a clock.
"""

from __future__ import annotations

import base64
import json

import pytest

from channels import Outcome, SkipCode
from proto import ChannelPreference, ChannelType, DeliverySpec, EventType, Priority, UserEvent
from tasks.escalation import (
    MAX_COUNTDOWN_S,
    MAX_ROUND_BACKOFF_S,
    give_up_at,
    retry_delay,
    round_backoff_s,
)
from tasks.finish import error_message
from tasks.plan import JOB_VERSION, build_round, channel_plan, initial_carry, new_job

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
    ("priority", "expected"), [("NORMAL", 1_000.0 + 600), ("CRITICAL", 1_000.0 + 86_400)]
)
def test_give_up_at_counts_from_receipt(priority: str, expected: float) -> None:
    job = {"event": {"priority": priority}, "received_ms": 1_000_000}
    assert give_up_at(job, normal_ttl_s=600, critical_deadline_s=86_400) == expected


# -- channel_plan --------------------------------------------------------------------------------


def event(
    priority: int,
    channels: list[ChannelPreference] | None = None,
    payload: bytes = b'{"order_id": "o-SECRET", "symbol": "BTC/USDT"}',
) -> UserEvent:
    return UserEvent(
        user_id="u-1",
        event_id="e-1",
        timestamp=1,
        event_type=EventType.ORDER_FILLED,
        payload=payload,
        delivery=DeliverySpec(priority=priority, channels=channels or []),
    )


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        (Priority.NORMAL, ["ACTIVE_SESSION", "TELEGRAM", "EMAIL"]),
        (Priority.CRITICAL, ["ACTIVE_SESSION", "TELEGRAM", "PUSH", "EMAIL"]),
    ],
)
def test_empty_channels_use_the_default_route(priority: int, expected: list[str], settings) -> None:
    plan = channel_plan(
        event(priority), settings.default_channels_normal, settings.default_channels_critical
    )
    assert plan == [{"channel": name, "only_if_active": False} for name in expected]


def test_default_route_strings_are_tolerant() -> None:
    plan = channel_plan(event(Priority.NORMAL), " web, discord ,,SLACK ,", "PUSH")
    assert [p["channel"] for p in plan] == ["WEB", "DISCORD", "SLACK"]


def test_given_channels_keep_order_and_only_if_active() -> None:
    prefs = [
        ChannelPreference(channel=ChannelType.WEB, only_if_active=True),
        ChannelPreference(channel=ChannelType.SLACK),
        ChannelPreference(channel=ChannelType.DISCORD, only_if_active=True),
    ]
    plan = channel_plan(event(Priority.CRITICAL, prefs), "EMAIL", "EMAIL")
    assert plan == [
        {"channel": "WEB", "only_if_active": True},
        {"channel": "SLACK", "only_if_active": False},
        {"channel": "DISCORD", "only_if_active": True},
    ]


# -- build_round ---------------------------------------------------------------------------------


def job_of(priority: int) -> dict:
    return new_job(event(priority), "ingress-1", b"\x01container", received_ms=1_700_000_000_000)


PLAN = [
    {"channel": "DISCORD", "only_if_active": False},
    {"channel": "ACTIVE_SESSION", "only_if_active": False},
    {"channel": "SLACK", "only_if_active": True},
]


@pytest.mark.parametrize(
    ("priority", "prefix"), [(Priority.CRITICAL, "critical"), (Priority.NORMAL, "normal")]
)
def test_build_round_links_and_queues(priority: int, prefix: str) -> None:
    job = job_of(priority)
    links = build_round(job, PLAN).tasks

    assert [link.task for link in links] == ["notify.attempt"] * 3 + ["notify.finish"]
    assert [link.options["queue"] for link in links] == [
        f"{prefix}.discord",
        f"{prefix}.control",
        f"{prefix}.slack",
        f"{prefix}.control",
    ]
    # The first link gets the initial carry; later links receive their predecessor's carry.
    assert links[0].args[0] == initial_carry()
    assert [len(link.args) for link in links] == [2, 1, 1, 1]
    link_jobs = [link.args[-1] for link in links]
    assert [j.get("channel") for j in link_jobs[:3]] == ["DISCORD", "ACTIVE_SESSION", "SLACK"]
    assert [j["only_if_active"] for j in link_jobs[:3]] == [False, False, True]
    assert all(j["tries"] == 0 and j["plan"] == PLAN for j in link_jobs[:3])
    assert all(j["v"] == JOB_VERSION and j["round"] == 0 for j in link_jobs)
    assert json.loads(json.dumps(link_jobs)) == link_jobs  # plain JSON data


def test_every_link_errors_into_finish() -> None:
    canvas = build_round(job_of(Priority.CRITICAL), PLAN)
    (errback,) = canvas.options["link_error"]
    assert errback.task == "notify.finish_on_error"
    assert errback.options["queue"] == "critical.control"


def test_an_empty_plan_is_just_finish() -> None:
    job = job_of(Priority.CRITICAL)
    links = build_round(job, []).tasks
    assert [link.task for link in links] == ["notify.finish"]
    assert links[0].args[0] == initial_carry()


def test_argsrepr_shows_ids_only() -> None:
    job = job_of(Priority.CRITICAL)
    job["round"] = 2
    links = build_round(job, PLAN).tasks
    reprs = [link.options["argsrepr"] for link in links]

    assert reprs[0] == "event=e-1 user=u-1 channel=DISCORD round=2 try=0"
    assert reprs[-1] == "event=e-1 user=u-1 channel=finish round=2 try=0"
    frame = job["event"]["frame"]
    for text in reprs:
        assert frame not in text
        assert frame[:16] not in text
        assert "o-SECRET" not in text and "BTC" not in text  # payload
        assert "container" not in text and b"\x01container".hex() not in text  # routing id
    assert "o-SECRET" in base64.b64decode(frame).decode(errors="replace")  # it is in the job itself


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
