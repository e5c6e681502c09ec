"""What travels on a session WebSocket, as JSON text messages (pure: no sockets, no Redis).

Server -> browser:

- ``{"type": "event", "event_id", "user_id", "event_type", "priority", "timestamp", "title",
  "body", "payload"}``: one notification. Enums are names; ``timestamp`` is the event's unix
  milliseconds; ``title`` and ``body`` are the channel-neutral summary (body = its lines joined
  by newlines); ``payload`` is the event's JSON object, with exact decimals as strings;
  ``key``, for an update about a thing (`position:<id>`, `alert:<id>`, `order:<id>`), names
  it: the page shows it in place of the earlier notification with the same key; ``needs_ack``,
  true when the event waits for the person's "Got it" (escalation goes on until then);
  ``offset``, where the event sits in the user's history (null when Redis did not keep it):
  reconnect with the last one seen as ``/ws?token=…&since=<offset>``; ``recovered``, true for
  an event the browser missed while it was away.
- ``{"type": "recovery", "since", "recovered", "complete", "offset"}``: after every connect,
  once what was missed after ``since`` (null on a first connection) has been sent:
  ``recovered`` events; ``complete`` false when some of it had already left the history (show
  the person that something may be missing); ``offset``, the newest offset.
- ``{"type": "acked", "event_id", "human"}``: the ack was recorded (``human``: the "Got it").
- ``{"type": "error", "error", "event_id"?}``: a client message was ignored, and why.

Browser -> server: ``{"ack": "<event_id>"}`` once the notification is shown, and
``{"ack": "<event_id>", "human": true}`` when the person pressed "Got it".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from channels import Notice, summarize
from proto import ID_PATTERN, UserEvent, supersede_key

__all__ = [
    "ClientAck",
    "ClientMessageError",
    "acked_message",
    "error_message",
    "event_message",
    "parse_ack",
    "recovery_message",
]


class ClientMessageError(ValueError):
    """A browser message that is not a well-formed ack; the message says what is wrong."""


def _dumps(message: dict[str, Any]) -> str:
    # Payload numbers are parsed as Decimal (exact); they go out as their exact text.
    return json.dumps(message, default=str, ensure_ascii=False, separators=(",", ":"))


def event_message(
    event: UserEvent, needs_ack: bool = False, offset: str | None = None, recovered: bool = False
) -> str:
    """The notification message for one (validated) event; `needs_ack`: it asks for the
    person's acknowledgement; `offset`, its place in the user's history; `recovered`, it is
    sent again to a browser that missed it."""
    notice = Notice.from_event(event)
    summary = summarize(notice)
    return _dumps(
        {
            "type": "event",
            "event_id": notice.event_id,
            "user_id": notice.user_id,
            "event_type": notice.event_type,
            "priority": notice.priority,
            "timestamp": notice.timestamp_ms,
            "title": summary.title,
            "body": "\n".join(summary.lines),
            "payload": notice.payload,
            "key": supersede_key(event.event_type, notice.payload),
            "needs_ack": needs_ack,
            "offset": offset,
            "recovered": recovered,
        }
    )


def recovery_message(since: str | None, recovered: int, complete: bool, offset: str | None) -> str:
    """Ends what a (re)connecting browser missed after `since`."""
    return _dumps(
        {
            "type": "recovery",
            "since": since,
            "recovered": recovered,
            "complete": complete,
            "offset": offset,
        }
    )


def acked_message(event_id: str, human: bool = False) -> str:
    """Confirms a recorded ack."""
    return _dumps({"type": "acked", "event_id": event_id, "human": human})


def error_message(error: str, event_id: str | None = None) -> str:
    """Says why a client message was ignored."""
    message: dict[str, Any] = {"type": "error", "error": error}
    if event_id is not None:
        message["event_id"] = event_id
    return _dumps(message)


@dataclass(frozen=True, slots=True)
class ClientAck:
    """A browser's ack: the notification was shown, or (`human`) the person pressed "Got it"."""

    event_id: str
    human: bool = False


def parse_ack(message: str | bytes) -> ClientAck:
    """The ack of an ``{"ack": id, "human"?: bool}`` message; ClientMessageError for anything
    else."""
    if not isinstance(message, str):
        raise ClientMessageError("binary message (expected JSON text)")
    try:
        data = json.loads(message)
    except ValueError:
        raise ClientMessageError("not JSON") from None
    if not isinstance(data, dict) or "ack" not in data:
        raise ClientMessageError('expected {"ack": "<event_id>"}')
    event_id = data["ack"]
    if not isinstance(event_id, str) or not ID_PATTERN.fullmatch(event_id):
        raise ClientMessageError("ack is not a valid event id")
    human = data.get("human", False)
    if not isinstance(human, bool):
        raise ClientMessageError("human is not true or false")
    return ClientAck(event_id, human)
