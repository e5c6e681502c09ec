"""Celery only: the app, the task contract, the escalation chain and the queue names.

`celery -A tasks worker` finds `tasks.app`; with no `-Q` it serves every queue. The task
modules (attempt, finish) are registered through `celeryconfig.imports`, so importing this
package (as the ingress does, to publish chains) loads neither them nor any provider SDK.
"""

from .app import app
from .chain import ChainProducer, apply_chain, build_chain
from .contract import Carry, Job, Link, Preference, RoundEntry, channel_plan, parse_channel_list
from .queues import ALL_QUEUES, WEB_PUBLISH_QUEUE, ingress_queue, queue_for
from .relay import RECEIVED_AT_HEADER, send_ack

__all__ = [
    "ALL_QUEUES",
    "RECEIVED_AT_HEADER",
    "WEB_PUBLISH_QUEUE",
    "Carry",
    "Job",
    "Link",
    "Preference",
    "RoundEntry",
    "app",
    "ChainProducer",
    "apply_chain",
    "build_chain",
    "channel_plan",
    "ingress_queue",
    "parse_channel_list",
    "queue_for",
    "send_ack",
]
