"""Real parts for the tests: a Redis (127.0.0.1:6379, else an embedded one — never skip), the
provider sandbox on a free port, a real `celery -A tasks worker` subprocess and a real ingress
subprocess on free ports. Every key this run writes carries its own prefix, removed at the end.

Here: the session-wide basics every package uses, then the running stack (worker, ingress,
scheduler, a container's DEALER, acks, live sessions) that tasks/, ingress/, sessions/ and
test_cli.py share. A package's own fixtures are in its own conftest.py; plain helpers are in
tests/helpers.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import zmq

from client import Dealer
from sandbox import (
    PROJECT_ID,
    SandboxServer,
    fcm_endpoint,
    reset,
    sendgrid_host,
    service_account_file,
    telegram_api_url,
)
from settings import Settings
from store import Store, redis_answers, start_embedded_redis
from tests.brokers import AMQP_BASE, amqp_answers, amqp_vhost
from tests.helpers import (
    collect_acks,
    drain_acks,
    free_port,
    spawn,
    start_ingress,
    stop_process,
    unique,
    wait_for_line,
    wait_until,
)

#: The shared Redis the tests use when it answers; point it elsewhere to try the embedded fallback.
DEFAULT_REDIS = os.environ.get("NOTIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The shared Redis when one answers, else an embedded redis-server for this run."""
    if redis_answers(DEFAULT_REDIS):
        yield DEFAULT_REDIS
        return
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with tempfile.TemporaryDirectory(prefix="notify-redis-") as data:
        process = start_embedded_redis(url, data, persistent=False)
        try:
            yield url
        finally:
            process.terminate()
            process.wait(10)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--broker",
        choices=("redis", "amqp"),
        default=os.environ.get("NOTIFY_TEST_BROKER", "redis"),
        help="The Celery broker of the running stacks: redis (the store's server) or amqp "
        "(RabbitMQ at NOTIFY_TEST_AMQP_URL); CI runs the `broker` tests on both.",
    )


@pytest.fixture(scope="session")
def broker_name(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--broker")


@pytest.fixture(scope="session")
def broker_url(broker_name: str, redis_url: str) -> Iterator[str]:
    """The stack's broker: this run's Redis, or a RabbitMQ virtual host of its own."""
    if broker_name == "redis":
        yield redis_url
        return
    if not amqp_answers():
        reason = f"--broker amqp: no RabbitMQ answers at {AMQP_BASE} (NOTIFY_TEST_AMQP_URL)"
        if os.environ.get("NOTIFY_TEST_REQUIRE_AMQP"):  # CI: a missing broker is a failure
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with amqp_vhost() as url:
        yield url


@pytest.fixture(scope="session")
def key_prefix(redis_url: str) -> Iterator[str]:
    """This run's own key prefix; its keys (store and broker) are deleted afterwards."""
    prefix = f"notifytest-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture
def clean_sandbox(sandbox: SandboxServer) -> SandboxServer:
    """The sandbox with no records, no queued Telegram updates, and every switch at ok."""
    reset(sandbox.url)
    return sandbox


@pytest.fixture(scope="session")
def stack_env(
    redis_url: str, broker_url: str, key_prefix: str, sandbox: SandboxServer, tmp_path_factory
) -> dict[str, str]:
    """Environment shared by the worker, the ingress and in-process settings of this run.

    Every provider points at this run's sandbox, as the local stack does."""
    credentials = service_account_file(sandbox.url, tmp_path_factory.mktemp("fcm"))
    env = {
        "NOTIFY_TELEGRAM_TOKEN": "123456:TEST-token",
        "NOTIFY_TELEGRAM_API_URL": telegram_api_url(sandbox.url),
        "NOTIFY_SENDGRID_API_KEY": "SG.test-key",
        "NOTIFY_SENDGRID_HOST": sendgrid_host(sandbox.url),
        "NOTIFY_EMAIL_FROM": "Notify Tests <notify@example.com>",
        "NOTIFY_FCM_CREDENTIALS": str(credentials),
        "NOTIFY_FCM_PROJECT_ID": PROJECT_ID,
        "NOTIFY_FCM_ENDPOINT": fcm_endpoint(sandbox.url),
        "NOTIFY_REDIS_URL": redis_url,
        "CELERY_BROKER_URL": broker_url,
        "NOTIFY_KEY_PREFIX": key_prefix,
        "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_ID": f"test-{key_prefix.rstrip(':')}",
        "NOTIFY_METRICS_PORT": "0",
        "NOTIFY_WORKER_METRICS_PORT": "0",
        "NOTIFY_RETRY_BASE_S": "0.1",
        "NOTIFY_CHANNEL_RETRIES": "2",
        "NOTIFY_ROUND_BACKOFF_S": "0.5",
        "NOTIFY_CRITICAL_DEADLINE_S": "20",
        # Long enough for a loaded machine to relay the publish (a later one is dropped as stale).
        "NOTIFY_WEB_ACK_TIMEOUT_S": "4",
        "NOTIFY_DATA_DIR": str(tmp_path_factory.mktemp("data")),
    }
    return env


@pytest.fixture(scope="session")
def settings(stack_env: dict[str, str], monkeypatch_session) -> Settings:
    for name, value in stack_env.items():
        monkeypatch_session.setenv(name, value)
    return Settings()


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


@pytest.fixture(scope="session")
def store(settings: Settings) -> Store:
    return Store(settings.redis_url, settings.key_prefix)


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Fresh ids per test, so tests never see each other's claims."""
    return unique


# -- the running stack: tasks/, ingress/, sessions/ and test_cli.py ------------------------------


@pytest.fixture(scope="session")
def worker(stack_env: dict[str, str], tmp_path_factory) -> Iterator[subprocess.Popen]:
    """A real `celery -A tasks worker` serving every queue."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tasks",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"test-{uuid.uuid4().hex[:6]}@%h",
    ]
    process = spawn(args, stack_env, log_path)
    wait_for_line(log_path, "ready.", process)
    process.log_path = log_path  # type: ignore[attr-defined]
    yield process
    stop_process(process, 30)


@pytest.fixture(scope="session")
def ingress(stack_env: dict[str, str], tmp_path_factory) -> Iterator[subprocess.Popen]:
    """A real ingress process on this run's ports."""
    process = start_ingress(stack_env, tmp_path_factory.mktemp("ingress") / "ingress.log")
    yield process
    stop_process(process)


@pytest.fixture(scope="session")
def scheduler(stack_env: dict[str, str], tmp_path_factory) -> Iterator[subprocess.Popen]:
    """A real `notify scheduler`: it starts each CRITICAL round when due."""
    log_path = tmp_path_factory.mktemp("scheduler") / "scheduler.log"
    process = spawn([sys.executable, "-m", "cli", "scheduler"], stack_env, log_path)
    wait_for_line(log_path, "scheduler running", process)
    yield process
    stop_process(process)


@pytest.fixture
def client(settings: Settings) -> Iterator[Dealer]:
    """A container's DEALER with a stable routing id of its own."""
    with Dealer(
        settings.router_connect, identity=f"container-{uuid.uuid4().hex[:8]}".encode()
    ) as dealer:
        yield dealer


@pytest.fixture
def pipeline(ingress, worker, scheduler, clean_sandbox, store):
    """The whole path is up: ingress, worker, a clean sandbox."""
    return clean_sandbox


@pytest.fixture
def acks():
    """Helpers to read acks: `acks.collect(dealer, event_id)`, `acks.drain(dealer)`."""

    class Acks:
        collect = staticmethod(collect_acks)
        drain = staticmethod(drain_acks)

    return Acks


@pytest.fixture
def subscribe(settings: Settings, store: Store):
    """Open a live session: a SUB on the user's topic, returned once presence reached Redis."""
    sockets = []

    def open_session(user_id: str):
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(settings.xpub_connect)
        sub.setsockopt(zmq.SUBSCRIBE, user_id.encode() + b"\x00")
        sockets.append(sub)
        wait_until(lambda: store.presence.is_present(user_id), f"presence of {user_id} in Redis")
        return sub

    yield open_session
    for sub in sockets:
        sub.close()


#: Settings of the shared test stack that a stack of a test's own takes over (the providers).
PROVIDER_SETTINGS = (
    "NOTIFY_TELEGRAM_TOKEN",
    "NOTIFY_TELEGRAM_API_URL",
    "NOTIFY_SENDGRID_API_KEY",
    "NOTIFY_SENDGRID_HOST",
    "NOTIFY_EMAIL_FROM",
    "NOTIFY_FCM_CREDENTIALS",
    "NOTIFY_FCM_PROJECT_ID",
    "NOTIFY_FCM_ENDPOINT",
)


@pytest.fixture
def own_stack(stack_env, sandbox, broker_name, tmp_path):
    """Start a pipeline of the test's own (tests/faults/stack.py): `own_stack(workers=2,
    ingresses=1, **settings)`. Its Redis is its own; its broker is that Redis, or a RabbitMQ
    vhost of its own with `--broker amqp`; its providers are this run's sandbox. Closed after
    the test."""
    from contextlib import ExitStack

    from tests.faults.stack import Stack

    with ExitStack() as resources:

        def start(workers: int = 2, ingresses: int = 1, **settings: str) -> Stack:
            env = {name: stack_env[name] for name in PROVIDER_SETTINGS} | settings
            broker = resources.enter_context(amqp_vhost()) if broker_name == "amqp" else None
            stack = Stack(tmp_path, sandbox.url, env, broker_url=broker)
            resources.callback(stack.close)
            return stack.start(workers=workers, ingresses=ingresses)

        yield start
