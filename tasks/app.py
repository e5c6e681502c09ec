"""The Celery app; every setting lives in celeryconfig.py."""

from celery import Celery

__all__ = ["app"]

app = Celery("notify")
app.config_from_object("celeryconfig")
# Task modules register on import (tasks/__init__.py imports them).
