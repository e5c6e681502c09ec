"""A configuration error stops every process at start with one readable line and exit 2: a bad
URL, a provider pointed somewhere without its credentials, an unknown channel name."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PROCESSES = {
    "ingress": ([sys.executable, "-m", "ingress"], "notify-ingress"),
    "worker": ([sys.executable, "-m", "celery", "-A", "tasks", "worker"], "celery"),
    "scheduler": ([sys.executable, "-m", "cli", "scheduler"], "notify"),
    "sessions": ([sys.executable, "-m", "sessions"], "notify sessions"),
    "telegram bot": ([sys.executable, "-m", "telegram_bot"], "notify telegram-bot"),
    "cli": ([sys.executable, "-m", "cli", "stats"], "notify"),
}
MISTAKES = {
    "bad Redis URL": (
        {"NOTIFY_REDIS_URL": "localhost:6379"},
        "NOTIFY_REDIS_URL: must be a URL starting with redis://, rediss://, unix:// (got 'localhost:6379')",
    ),
    "broker of no known kind": (
        {"CELERY_BROKER_URL": "kafka://u:secret@broker:9092"},
        "CELERY_BROKER_URL: must be a URL starting with redis://, rediss://, redis+socket://, sentinel://, amqp://, amqps://, pyamqp:// (got 'kafka://u:***@broker:9092')",
    ),
    "provider without its token": (
        {"NOTIFY_TELEGRAM_API_URL": "http://127.0.0.1:8590/telegram"},
        "NOTIFY_TELEGRAM_API_URL is set, so NOTIFY_TELEGRAM_TOKEN must be too (or unset both: the channel is then off)",
    ),
    "unknown channel": (
        {"NOTIFY_DEFAULT_CHANNELS_CRITICAL": "TELEGRAM,PIGEON"},
        "NOTIFY_DEFAULT_CHANNELS_CRITICAL: unknown channel 'PIGEON'; one of ACTIVE_SESSION, WEB, TELEGRAM, EMAIL, PUSH, DISCORD, SLACK",
    ),
}  # fmt: skip


@pytest.mark.parametrize("process", PROCESSES, ids=list(PROCESSES))
@pytest.mark.parametrize("mistake", MISTAKES, ids=list(MISTAKES))
def test_a_bad_setting_stops_the_process_with_one_line(process, mistake, tmp_path):
    args, name = PROCESSES[process]
    variables, problem = MISTAKES[mistake]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "CELERY_"))}
    env |= {"NOTIFY_ENV_FILE": str(tmp_path / "none.env"), **variables}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1] == f"{name}: bad configuration: {problem}", done.stderr
    assert "Traceback" not in done.stderr
