"""Flower's configuration file (`celery -A tasks flower --conf=deploy/flowerconfig.py`): Flower
executes it as Python before it serves, so its log lines (and tornado's) go through the
pipeline's handlers: one JSON object per line with NOTIFY_LOG_FORMAT=json, like every other
process. Names defined here that are Flower options become its settings, so only a function
is imported."""

from logsetup import configure_logging

configure_logging()
