"""Every Celery setting, read from the one Settings object (docs/architecture.md).

Times fit together as tasks/timing.py explains; docs/reliability.md has the arithmetic.
"""

from kombu import Exchange, Queue

from settings import load_settings
from tasks import timing
from tasks.queues import ALL_QUEUES, TASK_EXCHANGE

# A bad variable stops the worker (and `celery flower`, `celery inspect`) with one line, exit 2.
_settings = load_settings("celery")

# Always explicit: Celery's own default is amqp://localhost, where RabbitMQ may be listening.
broker_url = _settings.celery_broker_url
broker_connection_retry = True
broker_connection_retry_on_startup = True
broker_connection_max_retries = None  # a worker waits for its broker forever
if _settings.broker_is_redis:
    broker_transport_options = {
        # No ETA tasks: an unacked message is a running task, so this only has to cover one run.
        "visibility_timeout": timing.VISIBILITY_TIMEOUT_S,
        "unacked_restore_interval": timing.RESTORE_INTERVAL_S,
        "unacked_restore_throttle": 1,
        # Listed order of task_queues wins, so critical.* drains first.
        "queue_order_strategy": "priority",
        # A silently dead broker link is noticed, never waited on forever.
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
        "socket_keepalive": True,
        "health_check_interval": 10,
        "global_keyprefix": _settings.key_prefix,
    }
    if not broker_url.startswith("sentinel://"):
        # kombu's transport with our fix for a worker that dies on a broker restart
        # (tasks/broker.py); Sentinel keeps kombu's own.
        broker_transport = "tasks.broker:Transport"
else:
    # RabbitMQ: a publish returns once the broker has the message (publisher confirms); a dead
    # link is noticed by AMQP heartbeats; an unacked message goes back when its channel closes,
    # so no visibility timeout is needed. A worker serving critical.* and normal.* gets
    # messages from each in turn: CRITICAL never waits behind a NORMAL backlog, though it is
    # not strictly first (workers of `-Q critical.…` alone make it so).
    broker_transport_options = {"confirm_publish": True}
    broker_heartbeat = 10

# The task modules: a worker imports them at start; a publisher (the ingress) never needs to.
imports = ("tasks.attempt", "tasks.finish", "tasks.worker_logging", "tasks.startup")

# One direct exchange of our own, named (Celery would bind every queue to an exchange called
# after the default queue, "normal.control"); routing key = queue name. (Celery publishes a
# direct queue's tasks through the default exchange all the same, so a publisher of an earlier
# release reaches these queues, and this one reaches queues it bound.)
_exchange = Exchange(TASK_EXCHANGE, type="direct", durable=True)
task_queues = [Queue(name, _exchange, routing_key=name, durable=True) for name in ALL_QUEUES]
task_default_queue = "normal.control"
task_default_exchange = TASK_EXCHANGE
task_default_exchange_type = "direct"
task_default_routing_key = "normal.control"
task_create_missing_queues = False

task_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
result_backend = None

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_soft_time_limit = timing.SOFT_TIME_LIMIT_S
task_time_limit = timing.TIME_LIMIT_S

# Task events are off until someone watches: three broker messages per task cost ~11 % of
# worker CPU (docs/benchmarks.md). Flower turns them on in every worker it sees (its
# --enable_events, on by default); `celery -A tasks control enable_events` does it by hand.
# No `task-sent` event at all: one more message per published chain, for a state Flower also
# shows from `task-received` on.
worker_send_task_events = False
task_send_sent_event = False
