"""The deployment files hold to the code: docker-compose.yml runs every process with a health
check and a restart policy, two ingress replicas with ids of their own, and workers whose
channel groups cover every task queue exactly once; the Grafana dashboard loads as it is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

from settings import Settings
from tasks.queues import ALL_QUEUES
from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"

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
        # The bot exits 0 only when Telegram is turned off (NOTIFY_CHANNELS_OFF): it stays down.
        wanted = "on-failure" if name == "telegram-bot" else "unless-stopped"
        assert service["restart"] == wanted, name


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


def test_the_telegram_bot_is_healthy_only_while_it_beats():
    # The bot beats after each answered poll (tests/telegram_bot: the beat, and its removal).
    from store import STALE_AFTER_S
    from telegram_bot.bot import POLL_TIMEOUT_S

    check = SERVICES["telegram-bot"]["healthcheck"]["test"]
    assert check[:4] == ["CMD", "notify", "alive", "telegram-bot"]
    within = float(check[check.index("--within") + 1])
    # An idle bot beats once per long poll: live in `notify stats`, healthy here, with room.
    assert POLL_TIMEOUT_S < STALE_AFTER_S and within >= 2 * (POLL_TIMEOUT_S + 10)


def test_the_grafana_dashboard_loads_as_it_is():
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "notify.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])
        assert panel["datasource"]["uid"] == "${datasource}"
    assert dashboard["templating"]["list"][0]["type"] == "datasource"


def test_prometheus_scrapes_every_ingress_and_worker_service_on_its_metrics_port():
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    defaults = Settings.model_fields
    ports = {
        "notify-ingress": defaults["metrics_port"].default,
        "notify-worker": defaults["worker_metrics_port"].default,
    }
    scraped = set()
    for job in scrape["scrape_configs"]:
        for sd in job["dns_sd_configs"]:
            assert sd["type"] == "A" and sd["port"] == ports[job["job_name"]], job
            for name in sd["names"]:
                service = SERVICES[name]
                env = service.get("environment", COMPOSE["x-notify"]["environment"])
                setting = {"notify-ingress": "NOTIFY_METRICS_PORT"}.get(
                    job["job_name"], "NOTIFY_WORKER_METRICS_PORT"
                )
                assert int(env.get(setting, sd["port"])) == sd["port"], name
                if job["job_name"] == "notify-worker":
                    assert env["NOTIFY_WORKER_METRICS_HOST"] == "0.0.0.0", name
                else:  # with a server key an ingress's metrics listen on every interface
                    assert env["NOTIFY_CURVE_SERVER_SECRET_FILE"], name
                scraped.add(name)
    exporting = {n for n in SERVICES if n.startswith(("ingress-", "worker-"))}
    assert scraped == exporting


def test_grafana_has_prometheus_as_its_datasource_and_the_dashboard_provisioned():
    prometheus, grafana = SERVICES["prometheus"], SERVICES["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["monitoring"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in prometheus["volumes"] + grafana["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus.yml"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"

    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["isDefault"]
    assert source["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in prometheus["ports"]  # the port Prometheus serves on

    (provider,) = yaml.safe_load((provisioning / "dashboards" / "notify.yml").read_text())[
        "providers"
    ]
    folder = provider["options"]["path"]
    assert mounts[f"{folder}/notify.json"] == "./deploy/grafana/notify.json"

    # Every panel uses the `datasource` variable, which selects the provisioned one by uid.
    dashboard = json.loads((DEPLOY / "grafana" / "notify.json").read_text())
    variable = dashboard["templating"]["list"][0]
    assert variable["name"] == "datasource" and variable["query"] == source["type"]
    assert variable["current"]["value"] == source["uid"]
