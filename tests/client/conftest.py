"""An ingress of the client tests' own (on the test stack's Redis and worker), which a test may
kill and start again on the same ports and id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from settings import connect_address
from tests.helpers import free_port, start_ingress, stop_process


class OwnIngress:
    """One ingress process; `restart()` kills it (SIGKILL) and starts it again as it was."""

    def __init__(self, env: dict[str, str], log_dir) -> None:
        self.env = env
        self.router = connect_address(env["NOTIFY_INGRESS_ROUTER"])
        self._log_dir = log_dir
        self._starts = 0
        self.process = self._start()

    def _start(self):
        self._starts += 1
        return start_ingress(self.env, self._log_dir / f"ingress.{self._starts}.log")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def start(self) -> None:
        self.process = self._start()

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def own_ingress(stack_env, worker, scheduler, tmp_path) -> Iterator[OwnIngress]:
    env = {
        **stack_env,
        "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_ID": f"client-test-{uuid.uuid4().hex[:6]}",
    }
    ingress = OwnIngress(env, tmp_path)
    yield ingress
    ingress.stop()
