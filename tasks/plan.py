"""Builds the escalation chain of one event: `chain(attempt(ch1), attempt(ch2), …, finish())`.

The task contract is stable across deploys (a chain may live 24 h): fixed task names
(`notify.attempt`, `notify.finish`) and one versioned dict per link (the job). The first link
gets the initial carry; each next link receives its predecessor's carry as first argument.
"""

from __future__ import annotations

import base64
from typing import Any

from celery import chain
from celery.canvas import Signature

from proto import ChannelType, EventType, Priority, UserEvent, encode_event

from .app import app
from .queues import queue_for

__all__ = ["JOB_VERSION", "argsrepr", "build_round", "channel_plan", "initial_carry", "new_job"]

#: Version of the job and carry dicts.
JOB_VERSION = 1


def new_job(
    event: UserEvent, ingress_id: str, routing_id: bytes, received_ms: int
) -> dict[str, Any]:
    """The per-event part of every link's argument."""
    return {
        "v": JOB_VERSION,
        "event": {
            "user_id": event.user_id,
            "event_id": event.event_id,
            "event_type": EventType.Name(event.event_type),
            "priority": Priority.Name(event.delivery.priority),
            "frame": base64.b64encode(encode_event(event)).decode(),
        },
        "ingress_id": ingress_id,
        "routing_id": routing_id.hex(),
        "received_ms": received_ms,
        "round": 0,
    }


def channel_plan(
    event: UserEvent, default_normal: str, default_critical: str
) -> list[dict[str, Any]]:
    """The event's ordered channel preferences; an empty list means the configured default route."""
    preferences = [
        {"channel": ChannelType.Name(p.channel), "only_if_active": p.only_if_active}
        for p in event.delivery.channels
    ]
    if preferences:
        return preferences
    default = default_critical if event.delivery.priority == Priority.CRITICAL else default_normal
    return [
        {"channel": name.strip().upper(), "only_if_active": False}
        for name in default.split(",")
        if name.strip()
    ]


def initial_carry() -> dict[str, Any]:
    """What flows along the chain: every channel's final outcome, and the delivery if any."""
    return {"v": JOB_VERSION, "outcomes": [], "delivered": None}


def argsrepr(job: dict[str, Any], channel: str, tries: int = 0) -> str:
    """What Flower shows of a link: no addresses, tokens or payloads."""
    event = job["event"]
    return (
        f"event={event['event_id']} user={event['user_id']} channel={channel} "
        f"round={job['round']} try={tries}"
    )


def build_round(
    job: dict[str, Any],
    plan: list[dict[str, Any]],
    carry: dict[str, Any] | None = None,
    start: int = 0,
) -> Signature:
    """The chain for one round over `plan[start:]`, ending in finish; errors in any link lead to
    `finish_on_error`. `carry` and `start` continue a round whose earlier links already ran."""
    priority = job["event"]["priority"]
    job = {**job, "plan": plan}
    carry = carry or initial_carry()
    links: list[Signature] = []
    for index, preference in enumerate(plan[start:]):
        link_job = {
            **job,
            "channel": preference["channel"],
            "only_if_active": preference["only_if_active"],
            "tries": 0,
        }
        args = (carry, link_job) if index == 0 else (link_job,)
        links.append(
            app.signature("notify.attempt", args=args).set(
                queue=queue_for(priority, preference["channel"]),
                argsrepr=argsrepr(job, preference["channel"]),
            )
        )
    finish_args = (carry, job) if not links else (job,)
    links.append(
        app.signature("notify.finish", args=finish_args).set(
            queue=queue_for(priority, "CONTROL"), argsrepr=argsrepr(job, "finish")
        )
    )
    canvas = chain(*links)
    canvas.link_error(
        app.signature("notify.finish_on_error").set(queue=queue_for(priority, "CONTROL"))
    )
    return canvas
