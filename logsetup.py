"""Log lines say which event (and user) they are about: ContextVars set where an event is parsed
or a task starts, copied into each record by a logging.Filter (as Celery's TaskFormatter does
with the task id).

Plain text by default (`... event_id=<id> message`); NOTIFY_LOG_FORMAT=json makes every process
write one JSON object per line (python-json-logger), with `event_id`, `user_id`, and `channel`
and `outcome` where a record carries them, for a log pipeline to index. A Celery worker's own
output (its start-up banner, warnings before its logging is set up, its shutdown notices) is
made JSON too (`json_worker_output`); Flower's through deploy/flowerconfig.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

__all__ = [
    "FORMAT",
    "EventIdFilter",
    "configure_logging",
    "event_context",
    "formatter",
    "install_filter",
    "json_worker_output",
]

#: The event being handled, and its user; "-" outside of any.
current_event_id: ContextVar[str] = ContextVar("event_id", default="-")
current_user_id: ContextVar[str] = ContextVar("user_id", default="-")

FORMAT = "%(asctime)s %(levelname)s %(name)s event_id=%(event_id)s %(message)s"
#: The fields of a JSON line (besides those a record carries as `extra`).
JSON_FIELDS = (
    "%(asctime)s %(levelname)s %(name)s %(processName)s %(event_id)s %(user_id)s %(message)s"
)


class EventIdFilter(logging.Filter):
    """Adds `record.event_id` and `record.user_id` from the context."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.event_id = current_event_id.get()
        record.user_id = current_user_id.get()
        return True


#: What of Celery's task-log `data` a JSON line keeps: not `return_value` (the chain's carry,
#: with the event in it), which the plain-text lines leave out too (tasks/worker_logging.py).
CELERY_DATA_KEPT = ("id", "name", "args", "runtime")


class _Json(JsonFormatter):
    """One JSON object a line; fields not known for this record ("-") are left out."""

    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        data = log_record.get("data")
        if isinstance(data, dict):
            log_record["data"] = {k: v for k, v in data.items() if k in CELERY_DATA_KEPT}
        return {key: value for key, value in log_record.items() if value not in ("-", None)}


@contextmanager
def event_context(event_id: str, user_id: str | None = None) -> Iterator[None]:
    """Log lines inside the block carry this event id (and user id)."""
    token = current_event_id.set(event_id)
    user_token = current_user_id.set(user_id) if user_id else None
    try:
        yield
    finally:
        current_event_id.reset(token)
        if user_token is not None:
            current_user_id.reset(user_token)


def _json_wanted() -> bool:
    try:
        from settings import Settings

        return Settings().log_format == "json"
    except Exception:  # a bad setting is reported by the process itself, in plain text
        return False


def formatter(fmt: str = FORMAT) -> logging.Formatter:
    """The formatter of every handler: `fmt` as plain text, or JSON (NOTIFY_LOG_FORMAT=json)."""
    if _json_wanted():
        return _Json(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level"})
    return logging.Formatter(fmt)


def install_filter(logger: logging.Logger, fmt: str = FORMAT) -> None:
    """Put the filter and the formatter on every handler of `logger`."""
    chosen = formatter(fmt)
    for handler in logger.handlers:
        handler.addFilter(EventIdFilter())
        handler.setFormatter(chosen)


def configure_logging(level: str = "INFO") -> None:
    """Root logging for our own processes; quiets loggers that would print credentials."""
    logging.basicConfig(level=level, format=FORMAT)
    install_filter(logging.getLogger())
    # httpx/httpcore log request URLs (Telegram and webhook URLs are credentials);
    # python_http_client logs SendGrid's Authorization header at DEBUG.
    for name in ("httpx", "httpcore", "python_http_client"):
        logging.getLogger(name).setLevel(logging.WARNING)


def json_worker_output() -> None:
    """With NOTIFY_LOG_FORMAT=json a Celery worker writes nothing but JSON lines: warnings before
    its logging is set up (running as root) go through a JSON handler, its start-up banner
    becomes one log line (queues, concurrency, broker, tasks), and the notices it writes from
    signal handlers ('worker: Warm shutdown') are JSON. Connected by tasks/worker_logging.py."""
    from celery import signals

    signals.celeryd_init.connect(_json_from_the_start, weak=False)
    signals.celeryd_after_setup.connect(_banner_as_a_line, weak=False)


def _json_from_the_start(**_: object) -> None:
    if not _json_wanted():
        return
    import celery.apps.worker

    # Until Celery sets up logging (it then replaces the root's handlers with its own).
    handler = logging.StreamHandler()
    handler.addFilter(EventIdFilter())
    handler.setFormatter(formatter())
    logging.getLogger().addHandler(handler)
    logging.captureWarnings(True)
    celery.apps.worker.safe_say = _say_as_json  # type: ignore[assignment]


def _say_as_json(msg: str, f: Any = sys.__stderr__) -> None:
    """Celery's safe_say, as a JSON line: called from signal handlers, so no handler lock is
    taken; the line is formatted, then written with one os.write as Celery does."""
    record = logging.LogRecord(
        "celery.apps.worker", logging.INFO, __file__, 0, msg.strip(), None, None
    )
    EventIdFilter().filter(record)
    # As Celery's: losing the notice must never abort the caller.
    with contextlib.suppress(OSError, ValueError):
        os.write(f.fileno(), (formatter().format(record) + "\n").encode())


def _banner_as_a_line(sender: str, instance: Any, **_: object) -> None:
    if not _json_wanted():
        return
    instance.quiet = True  # Celery prints the banner unless quiet
    app = instance.app
    logging.getLogger("celery.apps.worker").info(
        "%s starting",
        sender,
        extra={
            "queues": sorted(app.amqp.queues.consume_from or app.amqp.queues),
            "concurrency": instance.concurrency,
            "broker": app.connection().as_uri(),  # without the password
            "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
        },
    )
