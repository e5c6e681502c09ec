"""Every Python example of client/README.md runs as it is written, against the real pipeline
(only the ingress address is this run's), and hears a final ack."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.broker

README = (ROOT / "client" / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_a_readme_example_runs(number, pipeline, settings, store, stack_env):
    # The user the examples write to, with the addresses the README tells the reader to set.
    store.directory.update("alice", telegram_chat="4242", email="alice@example.com")
    program = EXAMPLES[number].replace("tcp://127.0.0.1:5571", settings.router_connect)
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={**os.environ, **stack_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"DELIVERED|heard about it", done.stdout), done.stdout
    assert "ACK_ERROR" not in done.stdout and "could not be reached" not in done.stdout
