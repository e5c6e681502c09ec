"""`event_id=` in every log line: a ContextVar set where an event is parsed or a task starts,
copied into each record by a logging.Filter (as Celery's TaskFormatter does with the task id)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["FORMAT", "EventIdFilter", "configure_logging", "event_context", "install_filter"]

#: The id of the event being handled; "-" outside of any event.
current_event_id: ContextVar[str] = ContextVar("event_id", default="-")

FORMAT = "%(asctime)s %(levelname)s %(name)s event_id=%(event_id)s %(message)s"


class EventIdFilter(logging.Filter):
    """Adds `record.event_id` from the context."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.event_id = current_event_id.get()
        return True


@contextmanager
def event_context(event_id: str) -> Iterator[None]:
    """Log lines inside the block carry this event id."""
    token = current_event_id.set(event_id)
    try:
        yield
    finally:
        current_event_id.reset(token)


def install_filter(logger: logging.Logger, fmt: str = FORMAT) -> None:
    """Put the filter and format on every handler of `logger`."""
    for handler in logger.handlers:
        handler.addFilter(EventIdFilter())
        handler.setFormatter(logging.Formatter(fmt))


def configure_logging(level: str = "INFO") -> None:
    """Root logging for our own processes; quiets loggers that would print credentials."""
    logging.basicConfig(level=level, format=FORMAT)
    install_filter(logging.getLogger())
    # httpx/httpcore log request URLs (Telegram and webhook URLs are credentials);
    # python_http_client logs SendGrid's Authorization header at DEBUG.
    for name in ("httpx", "httpcore", "python_http_client"):
        logging.getLogger(name).setLevel(logging.WARNING)
