"""The task contract: what every `notify.attempt` / `notify.finish` message and every due-set
entry carries. Stable across deploys (a chain may live 24 h): fixed task names, and versioned
dicts that the previous release's messages still read as (`from_dict` takes version 1).

A chain is `chain(attempt(link 0), attempt(link 1), …, finish())`. The event travels once per
chain, inside the carry: the job (the event's 0x20 frame as received, its plan, where to ack)
rides in the first message and flows from link to link as each attempt's return value; each
link's own argument names only its index in the plan. So a chain's size grows with its channel
count, not its square. Channels are ChannelType values here; names only in the dicts.

Version 1 (the first release): `attempt(carry, job)` / `finish(carry, job)`, where every link's
job held the event (frame in base64), the plan and the link's own channel, tries and waits.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from proto import ChannelType, Priority, UserEvent

__all__ = [
    "VERSION",
    "Carry",
    "Job",
    "Link",
    "ParkedLink",
    "Preference",
    "RoundEntry",
    "attempt_args",
    "channel_plan",
    "due_entry",
    "finish_args",
    "parse_channel_list",
]

#: Version of every dict below.
VERSION = 2


def _channel(name: str) -> int:
    return ChannelType.Value(name)


@dataclass(frozen=True, slots=True)
class Preference:
    """One entry of the event's ordered channel plan."""

    channel: int
    only_if_active: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"channel": ChannelType.Name(self.channel), "only_if_active": self.only_if_active}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preference:
        return cls(_channel(data["channel"]), bool(data.get("only_if_active", False)))


@dataclass(frozen=True, slots=True)
class Job:
    """One event's round: the same for every link of its chain."""

    #: The 0x20 frame exactly as the ingress received it.
    frame: bytes
    user_id: str
    event_id: str
    priority: int
    #: Where the container is: its ingress (ack queue) and its ROUTER routing id.
    ingress_id: str
    routing_id: bytes
    #: When the ingress received it (TTL and deadline count from here).
    received_ms: int
    plan: tuple[Preference, ...]
    round: int = 0
    #: The latest outcome of each channel over earlier rounds (for the final ACK_ERROR).
    history: tuple[dict[str, Any], ...] = ()

    @property
    def critical(self) -> bool:
        return self.priority == Priority.CRITICAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "frame": base64.b64encode(self.frame).decode(),
            "user_id": self.user_id,
            "event_id": self.event_id,
            "priority": Priority.Name(self.priority),
            "ingress_id": self.ingress_id,
            "routing_id": self.routing_id.hex(),
            "received_ms": self.received_ms,
            "plan": [p.to_dict() for p in self.plan],
            "round": self.round,
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        if data.get("v", 1) == 1:
            return cls._from_v1(data)
        return cls(
            frame=base64.b64decode(data["frame"], validate=True),
            user_id=data["user_id"],
            event_id=data["event_id"],
            priority=Priority.Value(data["priority"]),
            ingress_id=data["ingress_id"],
            routing_id=bytes.fromhex(data["routing_id"]),
            received_ms=int(data["received_ms"]),
            plan=tuple(Preference.from_dict(p) for p in data["plan"]),
            round=int(data.get("round", 0)),
            history=tuple(data.get("history", ())),
        )

    @classmethod
    def _from_v1(cls, data: dict[str, Any], plan: list[dict[str, Any]] | None = None) -> Job:
        """A version-1 job: the event's fields sat under "event"; the plan beside it."""
        event = data["event"]
        fields = {key: event[key] for key in ("frame", "user_id", "event_id", "priority")}
        plan = plan if plan is not None else data.get("plan", [])
        return cls.from_dict({**data, **fields, "v": VERSION, "plan": plan})

    def next_round(self, plan: tuple[Preference, ...], history: tuple[dict[str, Any], ...]) -> Job:
        return replace(self, plan=plan, round=self.round + 1, history=history)


@dataclass(frozen=True, slots=True)
class Link:
    """One attempt's own argument: which plan entry it tries, and how far it got."""

    index: int
    tries: int = 0
    #: Unix time before which it must not try (a backoff or a provider's retry-after).
    not_before: float = 0.0
    #: The concrete channel it tries when the plan entry is ACTIVE_SESSION (resolved).
    resolved: int | None = None
    #: When its channel answered AWAITING_ACK (WEB published): the ack wait counts from here.
    sent_at: float | None = None
    #: When a provider accepted an event that asks for a person's acknowledgement: the wait for
    #: that acknowledgement counts from here.
    accepted_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"v": VERSION, "index": self.index, "tries": self.tries}
        if self.not_before:
            data["not_before"] = self.not_before
        if self.resolved is not None:
            data["resolved"] = ChannelType.Name(self.resolved)
        if self.sent_at is not None:
            data["sent_at"] = self.sent_at
        if self.accepted_at is not None:
            data["accepted_at"] = self.accepted_at
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Link:
        resolved = data.get("resolved")
        return cls(
            index=int(data["index"]),
            tries=int(data.get("tries", 0)),
            not_before=float(data.get("not_before", 0.0)),
            resolved=_channel(resolved) if resolved else None,
            sent_at=data.get("sent_at"),
            accepted_at=data.get("accepted_at"),
        )

    @classmethod
    def _from_v1(cls, job: dict[str, Any]) -> Link:
        names = [p["channel"] for p in job.get("plan", ())]
        planned = job.get("resolved_from") or job["channel"]
        return cls(
            index=names.index(planned) if planned in names else 0,
            tries=int(job.get("tries", 0)),
            not_before=float(job.get("not_before", 0.0)),
            resolved=_channel(job["channel"]) if job.get("resolved_from") else None,
            sent_at=job.get("web_published_at"),
        )


@dataclass(frozen=True, slots=True)
class Carry:
    """What flows along the chain: the job, each tried channel's outcome, the delivery if any."""

    job: Job
    #: One dict per tried plan entry: {"channel": name, **Outcome.as_dict()}.
    outcomes: tuple[dict[str, Any], ...] = ()
    #: The concrete channel that delivered.
    delivered: int | None = None
    #: Until when the event was held for a digest (quiet hours, the flood guard): a NORMAL
    #: event's TTL counts from then, for every later link too.
    held_until: float | None = None

    def with_outcome(self, planned: int, outcome: dict[str, Any]) -> Carry:
        entry = {"channel": ChannelType.Name(planned), **outcome}
        return replace(self, outcomes=(*self.outcomes, entry))

    def to_dict(self) -> dict[str, Any]:
        # The job last: Celery and Flower show the start of a task's result (its repr, cut at
        # the task's resultrepr_maxsize), and the job holds the event's payload.
        data: dict[str, Any] = {
            "v": VERSION,
            "delivered": ChannelType.Name(self.delivered) if self.delivered is not None else None,
            "outcomes": list(self.outcomes),
        }
        if self.held_until is not None:
            data["held_until"] = self.held_until
        data["job"] = self.job.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], job: Job | None = None) -> Carry:
        """`job` comes from the link's argument when the carry is version 1 (it had none)."""
        delivered = data.get("delivered")
        if isinstance(delivered, dict):  # version 1: {"channel": name}
            delivered = delivered.get("channel")
        return cls(
            job=Job.from_dict(data["job"]) if "job" in data else job,  # type: ignore[arg-type]
            outcomes=tuple(data.get("outcomes", ())),
            delivered=_channel(delivered) if delivered else None,
            held_until=data.get("held_until"),
        )


@dataclass(frozen=True, slots=True)
class RoundEntry:
    """A round waiting in the due set (or kept in the claim to restart one): its job."""

    job: Job

    def to_dict(self) -> dict[str, Any]:
        return {"v": VERSION, "kind": "round", "job": self.job.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundEntry:
        if data.get("v", 1) == 1:  # {"job": v1 job without plan, "plan": [...]}
            return cls(Job._from_v1(data["job"], data["plan"]))
        return cls(Job.from_dict(data["job"]))


@dataclass(frozen=True, slots=True)
class ParkedLink:
    """A link waiting in the due set (a backoff, a retry-after, the WEB ack poll): it comes
    back as the first link of a chain over the rest of its round."""

    carry: Carry
    link: Link

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "kind": "link",
            "carry": self.carry.to_dict(),
            "link": self.link.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParkedLink:
        return cls(Carry.from_dict(data["carry"]), Link.from_dict(data["link"]))


def due_entry(data: dict[str, Any]) -> RoundEntry | ParkedLink:
    """A due-set entry, whichever kind (the first release wrote only rounds)."""
    return ParkedLink.from_dict(data) if data.get("kind") == "link" else RoundEntry.from_dict(data)


def attempt_args(carry: dict[str, Any], link: dict[str, Any]) -> tuple[Carry, Link]:
    """The typed arguments of `notify.attempt`, from this release's dicts or version 1's."""
    if link.get("v", 1) == 1:
        job = Job._from_v1(link)
        return Carry.from_dict(carry, job), Link._from_v1(link)
    return Carry.from_dict(carry), Link.from_dict(link)


def finish_args(carry: dict[str, Any], job: dict[str, Any] | None = None) -> Carry:
    """The typed argument of `notify.finish`; version 1 passed the job beside the carry."""
    return Carry.from_dict(carry, Job._from_v1(job) if job is not None else None)


def parse_channel_list(text: str) -> tuple[Preference, ...]:
    """A configured default route ("ACTIVE_SESSION,TELEGRAM,EMAIL"); ValueError naming an
    unknown channel."""
    names = [name.strip().upper() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ChannelType.keys()]
    if unknown:
        raise ValueError(f"unknown channel {unknown[0]!r}; one of {', '.join(ChannelType.keys())}")
    return tuple(Preference(_channel(name)) for name in dict.fromkeys(names))


def channel_plan(
    event: UserEvent,
    default_normal: tuple[Preference, ...],
    default_critical: tuple[Preference, ...],
) -> tuple[Preference, ...]:
    """The event's ordered channel preferences; an empty list means the configured default route
    (`parse_channel_list` of NOTIFY_DEFAULT_CHANNELS_NORMAL / _CRITICAL, parsed once)."""
    if event.delivery.channels:
        return tuple(Preference(p.channel, p.only_if_active) for p in event.delivery.channels)
    return default_critical if event.delivery.priority == Priority.CRITICAL else default_normal
