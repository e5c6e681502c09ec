"""`notify up` as a newcomer runs it, on ports and a data folder of its own, with nothing
answering at its Redis URL (so it starts the embedded one): every process comes up, `notify
demo` ends with every CRITICAL event delivered, `notify trace` tells the liquidation's story,
Flower's API and its task page show the demo's tasks by name and arguments, every metric the
Grafana dashboard plots is exported, a SIGKILLed child is reported and started again, and Ctrl-C
stops everything."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import xmlrpc.client
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT, free_port, headless_chromium, wait_for_line, wait_until

FLOWER_AUTH = ("demo", "a-long-enough-password")


@pytest.fixture
def local_stack(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "CELERY_"))}
    env |= {
        "NOTIFY_DATA_DIR": str(tmp_path / "data"),
        "NOTIFY_ENV_FILE": str(tmp_path / "stack.env"),
        "NOTIFY_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing there: embedded
        "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_METRICS_PORT": str(free_port()),
        "NOTIFY_WORKER_METRICS_PORT": str(free_port()),
        "NOTIFY_SANDBOX_PORT": str(port := free_port()),
        "NOTIFY_SANDBOX_URL": f"http://127.0.0.1:{port}",
        "NOTIFY_SESSIONS_PORT": str(free_port()),
        "NOTIFY_FLOWER_PORT": str(free_port()),
        "NOTIFY_FLOWER_BASIC_AUTH": ":".join(FLOWER_AUTH),
        "NOTIFY_RETRY_BASE_S": "0.2",  # the liquidation escalates within seconds
    }
    log = tmp_path / "up.log"
    up = subprocess.Popen(
        [sys.executable, "-m", "cli", "up"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_line(log, "try it", up, 60)
        yield up, env, log, tmp_path
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            up.wait(90)


def _notify(env, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _supervisor(data: Path):
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{data / 'supervisor.sock'}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def _flower(env, path: str):
    """Flower's JSON answer, or None while it does not answer yet."""
    url = f"http://127.0.0.1:{env['NOTIFY_FLOWER_PORT']}{path}"
    try:
        return httpx.get(url, auth=FLOWER_AUTH, timeout=5).raise_for_status().json()
    except httpx.HTTPError:
        return None


def test_the_local_stack_runs_the_demo_and_restarts_what_dies(local_stack):
    up, env, log, tmp_path = local_stack
    supervisor = _supervisor(Path(env["NOTIFY_DATA_DIR"]))
    wait_until(
        lambda: {p["statename"] for p in supervisor.getAllProcessInfo()} == {"RUNNING"},
        lambda: f"every process RUNNING: {supervisor.getAllProcessInfo()}",
        timeout_s=60,
    )
    # Flower asks the workers for task events: wait until it knows the worker.
    wait_until(lambda: _flower(env, "/api/workers?refresh=1"), "Flower to see the worker", 60)

    demo = _notify(env, "demo", "--duration", "6", "--wait", "90", timeout=150)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "escalated" in demo.stdout and "POSITION_LIQUIDATED (DISCORD -> TELEGRAM)" in demo.stdout
    assert re.search(r"failed +0\b", demo.stdout), demo.stdout
    # The liquidation, the rejected order and the strategy error waited for the person.
    assert re.search(r"acknowledged +3\b", demo.stdout), demo.stdout
    assert 'bob    presses "Got it" in Telegram' in demo.stdout
    # dave's quiet hours held 4 NORMAL events; the flood guard the log lines of carol's beyond
    # 20 in the minute (5 of the burst, and her later one when it falls in the same minute).
    assert re.search(r"in digests +\d+ +\(flood guard [56], quiet hours 4\)", demo.stdout), (
        demo.stdout
    )
    liquidation = re.search(r"notify trace (\S+) --user bob", demo.stdout).group(1)

    story = json.loads(_notify(env, "trace", liquidation, "--json").stdout)
    kinds = [step["what"] for step in story["steps"]]
    assert kinds[:2] == ["received", "claimed"] and "queued" in kinds and kinds[-1] == "final"
    assert story["delivered_via"] == "TELEGRAM"
    assert any(s["details"].get("channel") == "DISCORD" for s in story["steps"])

    # Flower shows the demo's tasks by name, with readable arguments and no payload.
    tasks = wait_until(
        lambda: [
            task for task in (_flower(env, "/api/tasks") or {}).values()
            if task["name"] == "notify.attempt" and f"event={liquidation}" in (task["args"] or "")
            and task["state"] == "SUCCESS"
        ],
        "Flower to show the liquidation's attempts",
        timeout_s=30,
    )  # fmt: skip
    assert "channel=" in tasks[0]["args"] and "user=bob" in tasks[0]["args"]
    assert "liquidation_price" not in json.dumps(tasks)
    from selenium.webdriver.common.by import By

    with headless_chromium() as browser:
        user, password = FLOWER_AUTH
        browser.set_window_size(1920, 1000)  # wide enough for the arguments column
        browser.get(f"http://{user}:{password}@127.0.0.1:{env['NOTIFY_FLOWER_PORT']}/tasks")
        # Searched for as an operator would (the page lists the newest 15 tasks): the task
        # list's Args column (--tasks_columns) shows the liquidation's attempts.
        search = wait_until(
            lambda: browser.find_elements(By.CSS_SELECTOR, "input[type=search]"),
            "Flower's task search box",
            30,
        )
        search[0].send_keys(liquidation)
        shown = (
            r"notify\.attempt.*user=bob channel=(DISCORD|TELEGRAM) round=\d+ try=\d+ "
            rf"event={liquidation}"
        )

        def listed() -> str | None:  # one read of the page: its table is redrawn as tasks come
            page = browser.page_source
            return page if re.search(shown, page, flags=re.DOTALL) else None

        page = wait_until(listed, "Flower's task page to show the liquidation's arguments", 30)
        assert "liquidation_price" not in page
        shot = tmp_path / "flower-tasks.png"  # docs/images/flower-tasks.png is one of these
        browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    # Every metric the Grafana dashboard plots is exported by the stack, with the demo's traffic.
    scraped = httpx.get(f"http://127.0.0.1:{env['NOTIFY_METRICS_PORT']}/metrics").text
    scraped += httpx.get(f"http://127.0.0.1:{env['NOTIFY_WORKER_METRICS_PORT']}/metrics").text
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "notify.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {m for expr in exprs for m in re.findall(r"\b(notify_[a-z_]+)", expr)}
    exported = set(re.findall(r"^(notify_[a-z_]+)", scraped, flags=re.MULTILINE))
    assert used <= exported, used - exported
    assert re.search(
        r'^notify_worker_attempts_total\{channel="SLACK",outcome="delivered"\} [1-9]', scraped, re.M
    )

    # A child that dies is reported with its last lines and started again.
    before = supervisor.getProcessInfo("worker")["pid"]
    os.kill(before, signal.SIGKILL)
    wait_for_line(log, "notify: worker exited", up, 30)
    wait_until(
        lambda: (
            (info := supervisor.getProcessInfo("worker"))["statename"] == "RUNNING"
            and info["pid"] != before
        ),
        "the worker to run again",
        timeout_s=60,
    )
    assert "  worker | " in log.read_text(), "its last log lines are shown"

    up.send_signal(signal.SIGINT)
    assert up.wait(90) == 0
    assert "notify: stopping every process" in log.read_text()
    with pytest.raises(OSError):
        _supervisor(Path(env["NOTIFY_DATA_DIR"])).getState()
