"""The deployment files hold to the code: docker-compose.yml runs every process with a health
check and a restart policy, two ingress replicas with ids of their own, and workers whose
channel groups cover every task queue exactly once; the Grafana dashboard loads as it is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tasks.queues import ALL_QUEUES
from tests.helpers import ROOT, free_port

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_long_running_service_has_a_health_check_and_a_restart_policy():
    for name, service in SERVICES.items():
        if name == "keys":
            # A one-off job that exits once the keys exist: nothing running to probe; the
            # services wait for it to exit 0 instead.
            assert service["restart"] == "no"
            assert all(
                s["depends_on"]["keys"]["condition"] == "service_completed_successfully"
                for s in SERVICES.values()
                if "keys" in s.get("depends_on", {})
            )
            continue
        assert "healthcheck" in service, name
        assert service["restart"] == "unless-stopped", name


def test_two_ingress_replicas_with_ids_of_their_own_and_sessions_on_both():
    ingresses = {n: s for n, s in SERVICES.items() if n.startswith("ingress")}
    ids = {s["environment"]["NOTIFY_INGRESS_ID"] for s in ingresses.values()}
    assert len(ingresses) == 2 and len(ids) == 2
    xpubs = SERVICES["sessions"]["environment"]["NOTIFY_SESSIONS_XPUB"].split(",")
    assert {x.split("//")[1].split(":")[0] for x in xpubs} == set(ingresses)


def test_worker_groups_serve_every_queue_once_and_scale_alone():
    served = []
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if name.startswith("worker-"):
            assert "-Q" in command and "container_name" not in service, name  # --scale works
            served += command[command.index("-Q") + 1].split(",")
    assert sorted(served) == sorted(ALL_QUEUES)


def test_redis_keeps_data_and_never_evicts_and_the_sandbox_is_a_profile():
    command = " ".join(SERVICES["redis"]["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert SERVICES["sandbox"]["profiles"] == ["sandbox"]
    assert "NOTIFY_FLOWER_BASIC_AUTH" in SERVICES["flower"]["environment"]


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="no docker-compose (.ci/run has it)")
def test_the_compose_file_validates_on_a_plain_checkout():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "CELERY_"))}
    done = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_flower_refuses_to_start_without_its_password():
    command = SERVICES["flower"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2].replace("$$", "$")  # compose's escape for a literal $
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_FLOWER_BASIC_AUTH"}
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == "flower: set NOTIFY_FLOWER_BASIC_AUTH=user:password\n"
    assert "--tasks_columns=name,uuid,state,args," in script  # the task list shows arguments


def test_the_telegram_bot_is_unhealthy_without_a_connection_to_the_bot_api():
    check = SERVICES["telegram-bot"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    port = free_port()  # nothing connects there
    env = os.environ | {"NOTIFY_TELEGRAM_API_URL": f"http://127.0.0.1:{port}/telegram"}
    done = subprocess.run([sys.executable, "-c", check[3]], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == f"telegram-bot: no connection to 127.0.0.1:{port}"


def test_the_grafana_dashboard_loads_as_it_is():
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "notify.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
        assert panel["datasource"]["uid"] == "${datasource}"
    assert dashboard["templating"]["list"][0]["type"] == "datasource"
