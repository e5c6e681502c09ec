"""Celery only: the app, the attempt/finish tasks, the escalation chain and queue names.

`celery -A tasks worker` finds `tasks.app`; with no `-Q` it serves every queue.
"""

from . import attempt as _attempt  # noqa: F401  (registers notify.attempt)
from . import finish as _finish  # noqa: F401  (registers notify.finish, notify.finish_on_error)
from . import worker_logging as _worker_logging  # noqa: F401
from .app import app
from .plan import build_round, channel_plan, new_job
from .queues import ALL_QUEUES, WEB_PUBLISH_QUEUE, ingress_queue, queue_for

__all__ = [
    "ALL_QUEUES",
    "WEB_PUBLISH_QUEUE",
    "app",
    "build_round",
    "channel_plan",
    "ingress_queue",
    "new_job",
    "queue_for",
]
