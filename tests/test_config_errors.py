"""A configuration error stops every process at start with one readable line and exit 2: a bad
URL or address, a provider pointed somewhere without its credentials, an unknown channel name, a
Redis that does not answer, an address the ingress cannot bind, a worker serving a provider
channel with no credentials that NOTIFY_CHANNELS_OFF does not turn off."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import pytest

from client import NotifyClient, make_event
from proto import AckStatus, ChannelType
from tests.helpers import ROOT, free_port, stop_process, wait_for_line

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
        "NOTIFY_TELEGRAM_API_URL is set, so NOTIFY_TELEGRAM_TOKEN must be too (or unset both and list the channel in NOTIFY_CHANNELS_OFF)",
    ),
    "unknown channel": (
        {"NOTIFY_DEFAULT_CHANNELS_CRITICAL": "TELEGRAM,PIGEON"},
        "NOTIFY_DEFAULT_CHANNELS_CRITICAL: unknown channel 'PIGEON'; one of ACTIVE_SESSION, WEB, TELEGRAM, EMAIL, PUSH, DISCORD, SLACK",
    ),
    "unknown channel turned off": (
        {"NOTIFY_CHANNELS_OFF": "EMAIL,SMS"},
        "NOTIFY_CHANNELS_OFF: unknown channel 'SMS'; one of ACTIVE_SESSION, WEB, TELEGRAM, EMAIL, PUSH, DISCORD, SLACK",
    ),
    "a channel of our own turned off": (
        {"NOTIFY_CHANNELS_OFF": "PUSH,WEB"},
        "NOTIFY_CHANNELS_OFF: WEB cannot be turned off; one of TELEGRAM, EMAIL, PUSH, DISCORD, SLACK",
    ),
    "session XPUB not an address": (
        {"NOTIFY_SESSIONS_XPUB": "tcp://10.0.0.5:5570,notaurl"},
        "NOTIFY_SESSIONS_XPUB: must be comma-separated tcp://HOST:PORT (or ipc://PATH) addresses, e.g. tcp://10.0.0.5:5570,tcp://10.0.0.6:5570 (got 'notaurl')",
    ),
}  # fmt: skip


def run(args: list[str], tmp_path, **variables: str) -> subprocess.CompletedProcess:
    """`args` with no NOTIFY_*/CELERY_* setting but `variables`, and no env file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "CELERY_"))}
    # Run as root (a container, CI), Celery warns about it on stderr: not ours to test.
    env["PYTHONWARNINGS"] = "ignore:You're running the worker with superuser privileges"
    env |= {"NOTIFY_ENV_FILE": str(tmp_path / "none.env"), **variables}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def one_line(done: subprocess.CompletedProcess) -> str:
    """The process's stderr, which must be exactly one non-empty line."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("process", PROCESSES, ids=list(PROCESSES))
@pytest.mark.parametrize("mistake", MISTAKES, ids=list(MISTAKES))
def test_a_bad_setting_stops_the_process_with_one_line(process, mistake, tmp_path):
    args, name = PROCESSES[process]
    variables, problem = MISTAKES[mistake]
    done = run(args, tmp_path, **variables)
    assert done.returncode == 2, done.stderr
    assert one_line(done) == f"{name}: bad configuration: {problem}"


LONG_RUNNING = {
    "ingress": ([sys.executable, "-m", "ingress"], "notify-ingress"),
    "scheduler": ([sys.executable, "-m", "cli", "scheduler"], "notify scheduler"),
    "sessions": ([sys.executable, "-m", "sessions", "--port", "0"], "notify sessions"),
    "telegram bot": ([sys.executable, "-m", "telegram_bot"], "notify telegram-bot"),
}


@pytest.mark.parametrize("process", LONG_RUNNING, ids=list(LONG_RUNNING))
def test_a_redis_that_does_not_answer_stops_a_long_running_process(process, tmp_path):
    args, name = LONG_RUNNING[process]
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    done = run(args, tmp_path, NOTIFY_REDIS_URL=url, NOTIFY_TELEGRAM_TOKEN="1000001:sandbox")
    assert done.returncode == 2, done.stderr
    shown = url.replace(":secret@", ":***@")
    assert one_line(done) == (
        f"{name}: no Redis answers at NOTIFY_REDIS_URL={shown} within 3 s (start it, or fix the URL)"
    )


def test_an_ingress_address_it_cannot_bind_stops_it(redis_url, tmp_path):
    ingress = [sys.executable, "-m", "ingress"]
    common = {"NOTIFY_REDIS_URL": redis_url, "NOTIFY_METRICS_PORT": "0"}
    xpub = f"tcp://127.0.0.1:{free_port()}"
    port = free_port()
    nowhere = f"tcp://nosuchhost.invalid:{port}"  # allowed (NOTIFY_INSECURE), yet no such host
    done = run(
        ingress, tmp_path, **common, NOTIFY_INSECURE="1",
        NOTIFY_INGRESS_ROUTER=nowhere, NOTIFY_INGRESS_XPUB=xpub,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert one_line(done).startswith(
        f"notify-ingress: cannot bind NOTIFY_INGRESS_ROUTER={nowhere}: "
    )

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        done = run(
            ingress, tmp_path, **common,
            NOTIFY_INGRESS_ROUTER=f"tcp://127.0.0.1:{port}", NOTIFY_INGRESS_XPUB=busy,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert one_line(done) == (
        f"notify-ingress: cannot bind NOTIFY_INGRESS_XPUB={busy}: Address already in use"
    )

    same = f"tcp://127.0.0.1:{port}"  # ROUTER and XPUB on one address: the second is in use
    done = run(ingress, tmp_path, **common, NOTIFY_INGRESS_ROUTER=same, NOTIFY_INGRESS_XPUB=same)
    assert done.returncode == 2, done.stderr
    assert one_line(done) == (
        f"notify-ingress: cannot bind NOTIFY_INGRESS_XPUB={same}: Address already in use"
    )


def test_the_telegram_bot_needs_a_token_unless_telegram_is_off(redis_url, tmp_path):
    bot = [sys.executable, "-m", "telegram_bot"]
    done = run(bot, tmp_path, NOTIFY_REDIS_URL=redis_url)
    assert done.returncode == 2, done.stderr
    assert one_line(done) == (
        "notify telegram-bot: bad configuration: NOTIFY_TELEGRAM_TOKEN is unset "
        "(set it, or list TELEGRAM in NOTIFY_CHANNELS_OFF to turn the channel off)"
    )
    done = run(bot, tmp_path, NOTIFY_REDIS_URL=redis_url, NOTIFY_CHANNELS_OFF="email,telegram")
    assert done.returncode == 0, done.stderr
    assert one_line(done) == "notify telegram-bot: TELEGRAM is in NOTIFY_CHANNELS_OFF: not starting"


@pytest.mark.parametrize(
    ("queues", "variable", "queue", "name"),
    [
        ("critical.telegram", "NOTIFY_TELEGRAM_TOKEN", "critical.telegram", "TELEGRAM"),
        ("critical.control,normal.email", "NOTIFY_SENDGRID_API_KEY", "normal.email", "EMAIL"),
        ("normal.push", "NOTIFY_FCM_CREDENTIALS", "normal.push", "PUSH"),
    ],
)
def test_a_worker_serving_a_provider_without_credentials_stops(
    queues, variable, queue, name, redis_url, tmp_path
):
    worker = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", queues]
    done = run(worker, tmp_path, NOTIFY_REDIS_URL=redis_url, NOTIFY_WORKER_METRICS_PORT="0")
    assert done.returncode == 2, done.stderr
    assert one_line(done) == (
        f"celery: bad configuration: {variable} is unset, and this worker serves {queue} "
        f"(set it, or list {name} in NOTIFY_CHANNELS_OFF to turn the channel off)"
    )


def test_a_worker_serving_no_provider_channel_needs_no_credentials(redis_url, tmp_path):
    worker = [
        sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "solo",
        "--loglevel=INFO", "--without-mingle", "--without-gossip",
        "-Q", "critical.control,critical.discord,critical.slack,critical.web",
    ]  # fmt: skip
    # No NOTIFY_* or CELERY_* setting of the runner's (the suite's providers, say): no
    # credentials at all, and nothing turned off.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "CELERY_"))}
    env |= {
        "NOTIFY_ENV_FILE": str(tmp_path / "none.env"),
        "NOTIFY_REDIS_URL": redis_url,
        "NOTIFY_KEY_PREFIX": f"cfg-{uuid.uuid4().hex[:6]}:",
        "NOTIFY_WORKER_METRICS_PORT": "0",
    }
    with open(tmp_path / "worker.log", "wb") as log:
        process = subprocess.Popen(worker, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_line(tmp_path / "worker.log", "ready.", process, 60)
    finally:
        stop_process(process, 30)


@pytest.mark.broker
def test_a_channel_turned_off_fails_its_attempts_and_escalates(own_stack, clean_sandbox):
    # Telegram has no token and is turned off: the workers start, and a Telegram attempt fails
    # permanently saying so; the chain goes on to email.
    stack = own_stack(
        workers=1,
        NOTIFY_CHANNELS_OFF="TELEGRAM",
        NOTIFY_TELEGRAM_TOKEN="",
        NOTIFY_TELEGRAM_API_URL="https://api.telegram.org",
    )
    store = stack.store()
    user = f"off-{uuid.uuid4().hex[:6]}"
    store.directory.update(user, telegram_chat="42", email=f"{user}@example.com")
    event = make_event(user, "ORDER_FILLED", "CRITICAL", ["TELEGRAM", "EMAIL"], {"symbol": "X"})
    with NotifyClient(stack.router(), identity=uuid.uuid4().hex.encode()) as client:
        ack = client.send(event).result(60)
    assert (ack.status, ack.delivered_via) == (AckStatus.DELIVERED, ChannelType.EMAIL)
    log = store.delivery_log.read(user, event.event_id)
    telegram = [entry for entry in log if entry.get("channel") == "TELEGRAM"]
    assert telegram and telegram[0]["detail"] == "telegram is off: NOTIFY_CHANNELS_OFF", log
    assert clean_sandbox.state.requests("telegram") == []
