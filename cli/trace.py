"""`notify trace`: one event's whole story, with the time between its steps.

The steps come from the latency receipts the pipeline writes as it goes: the claim holds when
the ingress received the event (`received_ms`), when its claim was written (`claimed_at`), when it marked it QUEUED
(`queued_at`) and when
its final state was written (`final_at`); each delivery-log entry holds when its attempt
started, how long the provider took (`latency_s`) and when the attempt was recorded.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["Step", "event_story", "trace"]


@dataclass(frozen=True, slots=True)
class Step:
    """One moment of an event's life."""

    at: float  #: unix seconds
    what: str  #: received, queued, attempt, answered, final
    text: str
    details: dict[str, Any] = field(default_factory=dict)


def _event_of(claim: dict[str, str]) -> tuple[str, str]:
    """(event type, priority) from the round entry the claim keeps, when it keeps one."""
    from proto import EventType, Priority, decode_frame
    from tasks import RoundEntry

    try:
        job = RoundEntry.from_dict(json.loads(claim["resume"])).job
        event = decode_frame(job.frame)
        return EventType.Name(event.event_type), Priority.Name(event.delivery.priority)
    except (KeyError, ValueError, TypeError, AttributeError):
        return "-", "-"


def event_story(claim: dict[str, str], log: list[dict[str, Any]]) -> list[Step]:
    """The steps of an event, in time order, from its claim and its delivery log."""
    steps = []
    if claim.get("received_ms"):
        where = claim.get("ingress_id") or "-"
        steps.append(
            Step(
                int(claim["received_ms"]) / 1000,
                "received",
                f"received by ingress {where}",
            )
        )
    if claim.get("claimed_at"):
        steps.append(Step(float(claim["claimed_at"]), "claimed", "claimed (dedup, lease, outbox)"))
    if claim.get("queued_at"):
        steps.append(Step(float(claim["queued_at"]), "queued", "chain published; QUEUED ack"))
    for entry in log:
        channel = entry.get("channel", "?")
        where = f"{channel} round {entry.get('round', 0)} try {entry.get('try', 0)}"
        details = {k: entry.get(k) for k in ("channel", "round", "try", "kind", "detail")}
        if entry.get("started"):
            steps.append(Step(float(entry["started"]), "attempt", f"attempt {where}", details))
        latency = entry.get("latency_s")
        provider = f" (provider {_span(latency)})" if latency is not None else ""
        kind, detail = entry.get("kind", ""), entry.get("detail", "")
        said = detail if detail.startswith(str(kind)) else f"{kind} {detail}".rstrip()
        answered = f"{channel}: {said}"
        details = {**details, "latency_s": latency}
        steps.append(Step(float(entry["time"]), "answered", answered + provider, details))
    if claim.get("final_at"):
        state = claim.get("state", "")
        text = (
            f"final ack: DELIVERED via {claim.get('delivered_via')}"
            if state == "DELIVERED"
            else f"final ack: ACK_ERROR: {claim.get('error', '')}"
        )
        steps.append(Step(float(claim["final_at"]), "final", text, {"state": state}))
    return sorted(steps, key=lambda step: step.at)


def _span(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def trace(
    event_id: str,
    user: Annotated[
        str | None, typer.Option(help="User id (found by a scan of the claims when not given).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for machines.")] = False,
) -> None:
    """Print an event's story: received by the ingress and claimed, QUEUED ack, each attempt
    (channel, outcome, provider detail and latency), final ack, with the time between steps.

    \b
    Examples:
      notify trace liq-1 --user alice
      notify trace liq-1 --json
    """
    store = store_or_exit(settings_or_exit())
    if user is None:
        users = store.claims.users_of(event_id)
        if len(users) != 1:
            found = f"users {', '.join(users)}" if users else "no user"
            typer.echo(f"notify: event {event_id!r} has {found}; give --user", err=True)
            raise typer.Exit(1 if not users else 2)
        user = users[0]
    claim = store.claims.read(user, event_id)
    if not claim:
        typer.echo(f"notify: no event {event_id!r} for user {user!r}", err=True)
        raise typer.Exit(1)
    steps = event_story(claim, store.delivery_log.read(user, event_id))
    event_type, priority = _event_of(claim)
    state = claim.get("state", "")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "event_id": event_id,
                    "user_id": user,
                    "event_type": event_type,
                    "priority": priority,
                    "state": state,
                    "delivered_via": claim.get("delivered_via") or None,
                    "error": claim.get("error") or None,
                    "steps": [asdict(step) for step in steps],
                }
            )
        )
        return
    took = (
        f" in {_span(steps[-1].at - steps[0].at)}"
        if len(steps) > 1 and claim.get("final_at")
        else ""
    )
    typer.echo(f"event {event_id}  user {user}  {event_type} {priority}  -> {state}{took}")
    previous = None
    for step in steps:
        clock = (
            time.strftime("%H:%M:%S", time.localtime(step.at))
            + f".{int(step.at * 1000) % 1000:03d}"
        )
        since = f"+{_span(step.at - previous)}" if previous is not None else ""
        indent = "  " if step.what == "answered" else ""
        typer.echo(f"  {clock} {since:>9}  {indent}{step.text}")
        previous = step.at
