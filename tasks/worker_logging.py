"""Worker log lines carry `event_id=` too (the tasks set it on entry), and no payload: Celery's
"succeeded" line shows the task's safe arguments (event, user, channel, round, try) instead of
its return value, which carries the event (frame and payload) along the chain."""

from celery.app import trace
from celery.signals import after_setup_logger, after_setup_task_logger

from logsetup import install_filter, json_worker_output

FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(name)s event_id=%(event_id)s %(message)s"

trace.LOG_SUCCESS = "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(args)s"

json_worker_output()  # NOTIFY_LOG_FORMAT=json: the banner and notices as JSON lines too


@after_setup_logger.connect
@after_setup_task_logger.connect
def _add_event_id(logger, **_: object) -> None:
    install_filter(logger, FORMAT)
    for name in (
        "httpx",
        "httpcore",
        "python_http_client",
    ):  # they log webhook URLs, which are credentials
        logger.manager.getLogger(name).setLevel("WARNING")
