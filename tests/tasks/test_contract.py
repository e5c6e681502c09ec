"""The task contract: the channel plan, the chain of one round, its size, and version-1 messages.

Pure: building a signature sends nothing.
"""

from __future__ import annotations

import base64
import json

import pytest

from proto import (
    ChannelPreference,
    ChannelType,
    DeliverySpec,
    EventType,
    Priority,
    UserEvent,
    encode_event,
)
from tasks.chain import build_chain
from tasks.contract import (
    VERSION,
    Carry,
    Job,
    Link,
    Preference,
    RoundEntry,
    attempt_args,
    channel_plan,
    finish_args,
    parse_channel_list,
)

D, S, A, W = ChannelType.DISCORD, ChannelType.SLACK, ChannelType.ACTIVE_SESSION, ChannelType.WEB


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


def job_of(priority: int, plan: tuple[Preference, ...], round_no: int = 0) -> Job:
    return Job(
        frame=encode_event(event(priority)),
        user_id="u-1",
        event_id="e-1",
        priority=priority,
        ingress_id="ingress-1",
        routing_id=b"\x01container",
        received_ms=1_700_000_000_000,
        plan=plan,
        round=round_no,
    )


PLAN = (Preference(D), Preference(A), Preference(S, only_if_active=True))


# -- channel_plan ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        (Priority.NORMAL, ["ACTIVE_SESSION", "TELEGRAM", "EMAIL"]),
        (Priority.CRITICAL, ["ACTIVE_SESSION", "TELEGRAM", "PUSH", "EMAIL"]),
    ],
)
def test_empty_channels_use_the_default_route(priority: int, expected: list[str], settings) -> None:
    plan = channel_plan(
        event(priority),
        parse_channel_list(settings.default_channels_normal),
        parse_channel_list(settings.default_channels_critical),
    )
    assert plan == tuple(Preference(ChannelType.Value(name)) for name in expected)


def test_default_route_strings_are_tolerant() -> None:
    plan = parse_channel_list(" web, discord ,,SLACK ,web")
    assert [ChannelType.Name(p.channel) for p in plan] == ["WEB", "DISCORD", "SLACK"]


def test_an_unknown_default_channel_is_named() -> None:
    with pytest.raises(ValueError, match="unknown channel 'PIGEON'"):
        parse_channel_list("EMAIL,PIGEON")


def test_given_channels_keep_order_and_only_if_active() -> None:
    prefs = [
        ChannelPreference(channel=W, only_if_active=True),
        ChannelPreference(channel=S),
        ChannelPreference(channel=D, only_if_active=True),
    ]
    plan = channel_plan(event(Priority.CRITICAL, prefs), (), ())
    assert plan == (Preference(W, True), Preference(S, False), Preference(D, True))


# -- the chain of one round ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "prefix"), [(Priority.CRITICAL, "critical"), (Priority.NORMAL, "normal")]
)
def test_build_chain_links_and_queues(priority: int, prefix: str) -> None:
    carry = Carry(job_of(priority, PLAN))
    links = build_chain(carry).tasks

    assert [link.task for link in links] == ["notify.attempt"] * 3 + ["notify.finish"]
    assert [link.options["queue"] for link in links] == [
        f"{prefix}.discord",
        f"{prefix}.control",
        f"{prefix}.slack",
        f"{prefix}.control",
    ]
    # The first link gets the carry (with the job, once); later links only their index.
    assert links[0].args[0] == carry.to_dict()
    assert [len(link.args) for link in links] == [2, 1, 1, 0]
    assert [link.args[-1] for link in links[:3]] == [
        {"v": VERSION, "index": i, "tries": 0} for i in range(3)
    ]
    assert json.loads(json.dumps(links[0].args)) == list(links[0].args)  # plain JSON data


def test_the_event_travels_once_per_chain() -> None:
    """800 channels in a frame: the chain grows with the channel count, not its square."""

    def size(channels: int) -> int:
        plan = tuple(
            Preference(ChannelType.Value(name)) for name in ["DISCORD", "SLACK"] * channels
        )
        return len(json.dumps(build_chain(Carry(job_of(Priority.CRITICAL, plan))).tasks[0].args))

    small, large = size(50), size(400)
    assert large < 8 * small * 1.2  # 8x the channels: about 8x the size, never 64x
    frame = base64.b64encode(job_of(Priority.CRITICAL, PLAN).frame).decode()
    chain_json = json.dumps(
        [t.args for t in build_chain(Carry(job_of(Priority.CRITICAL, PLAN))).tasks]
    )
    assert chain_json.count(frame) == 1


def test_every_link_errors_into_finish() -> None:
    canvas = build_chain(Carry(job_of(Priority.CRITICAL, PLAN)))
    (errback,) = canvas.options["link_error"]
    assert errback.task == "notify.finish_on_error"
    assert errback.options["queue"] == "critical.control"


def test_an_empty_plan_is_just_finish() -> None:
    carry = Carry(job_of(Priority.CRITICAL, ()))
    links = build_chain(carry).tasks
    assert [link.task for link in links] == ["notify.finish"]
    assert links[0].args[0] == carry.to_dict()


def test_a_continued_round_starts_at_its_index_with_the_carry() -> None:
    carry = Carry(job_of(Priority.CRITICAL, PLAN)).with_outcome(D, {"kind": "transient"})
    links = build_chain(carry, start=1).tasks
    assert [link.options["queue"] for link in links] == [
        "critical.control",
        "critical.slack",
        "critical.control",
    ]
    assert links[0].args == (carry.to_dict(), {"v": VERSION, "index": 1, "tries": 0})


def test_argsrepr_shows_ids_only() -> None:
    job = job_of(Priority.CRITICAL, PLAN, round_no=2)
    links = build_chain(Carry(job)).tasks
    reprs = [link.options["argsrepr"] for link in links]

    assert reprs[0] == "user=u-1 channel=DISCORD round=2 try=0 event=e-1"
    assert reprs[-1] == "user=u-1 channel=finish round=2 try=0 event=e-1"
    frame = base64.b64encode(job.frame).decode()
    for text in reprs:
        assert frame[:16] not in text
        assert "o-SECRET" not in text and "BTC" not in text  # payload
        assert "container" not in text and b"\x01container".hex() not in text  # routing id
    assert b"o-SECRET" in job.frame  # it is in the job itself


# -- round trips and version 1 -------------------------------------------------------------------


def test_every_dict_round_trips() -> None:
    job = job_of(Priority.NORMAL, PLAN, round_no=3)
    link = Link(2, tries=1, not_before=5.5, resolved=W, sent_at=4.25)
    carry = Carry(job, ({"channel": "DISCORD", "kind": "permanent"},), delivered=S)
    assert Job.from_dict(job.to_dict()) == job
    assert Link.from_dict(link.to_dict()) == link
    assert Carry.from_dict(json.loads(json.dumps(carry.to_dict()))) == carry
    assert RoundEntry.from_dict(RoundEntry(job).to_dict()) == RoundEntry(job)


def v1_job(**link: object) -> dict:
    """A link's job as the first release published it."""
    frame = encode_event(event(Priority.CRITICAL))
    return {
        "v": 1,
        "event": {
            "user_id": "u-1",
            "event_id": "e-1",
            "event_type": "ORDER_FILLED",
            "priority": "CRITICAL",
            "frame": base64.b64encode(frame).decode(),
        },
        "ingress_id": "ingress-1",
        "routing_id": b"\x01container".hex(),
        "received_ms": 1_700_000_000_000,
        "round": 1,
        "plan": [
            {"channel": "DISCORD", "only_if_active": False},
            {"channel": "ACTIVE_SESSION", "only_if_active": False},
        ],
        "channel": "DISCORD",
        "only_if_active": False,
        "tries": 0,
        **link,
    }


def test_a_version_1_attempt_reads_as_this_release() -> None:
    carry, link = attempt_args({"v": 1, "outcomes": [], "delivered": None}, v1_job(tries=2))
    assert carry.job == job_of(Priority.CRITICAL, (Preference(D), Preference(A)), round_no=1)
    assert (carry.outcomes, carry.delivered) == ((), None)
    assert link == Link(0, tries=2)


def test_a_version_1_resolved_web_attempt_keeps_its_wait() -> None:
    job = v1_job(channel="WEB", resolved_from="ACTIVE_SESSION", web_published_at=12.5)
    _, link = attempt_args({"v": 1, "outcomes": [], "delivered": None}, job)
    assert link == Link(1, resolved=W, sent_at=12.5)


def test_a_version_1_finish_and_due_entry_read_as_this_release() -> None:
    delivered = finish_args({"v": 1, "outcomes": [], "delivered": {"channel": "DISCORD"}}, v1_job())
    assert delivered.delivered == D and delivered.job.event_id == "e-1"
    job = {k: v for k, v in v1_job().items() if k not in ("plan", "channel", "tries")}
    entry = RoundEntry.from_dict({"job": job, "plan": [{"channel": "SLACK"}]})
    assert entry.job.plan == (Preference(S),) and entry.job.round == 1
