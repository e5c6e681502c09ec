"""The Celery app; every setting lives in celeryconfig.py (task modules too: `imports`)."""

from celery import Celery

__all__ = ["app"]

app = Celery("notify")
app.config_from_object("celeryconfig")
