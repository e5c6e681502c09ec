"""The walls between the folders hold: what each process loads, one channel registry that
everything derives from, and Redis reached only through store/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from channels import CHANNELS, Channel
from proto import ChannelType
from sandbox.app import PROVIDER_ROUTES
from sandbox.state import PROVIDERS
from tasks.queues import ALL_QUEUES

ROOT = Path(__file__).resolve().parent.parent
#: Packages and modules of ours that are not store/ (tests may reach into Redis directly).
NOT_STORE = [
    *(ROOT / name for name in ("proto", "ingress", "tasks", "channels", "sessions", "client")),
    *(ROOT / name for name in ("sandbox", "telegram_bot", "bench")),
    ROOT / "cli",
    *(ROOT / f"{name}.py" for name in ("settings", "celeryconfig", "logsetup")),
]
#: Provider SDKs: only a worker that sends on their channel loads them.
SDKS = ("telegram", "sendgrid", "pyfcm", "python_http_client", "google.auth", "google.oauth2")


def _modules_after(statement: str, **env: str) -> list[str]:
    """sys.modules after `statement`, in a fresh interpreter."""
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout
    return json.loads(out.splitlines()[-1])


def _loaded_by(statement: str, **env: str) -> list[str]:
    """The provider SDK modules loaded by `statement`, in a fresh interpreter."""
    # `google` alone is protobuf's namespace package (google.protobuf), which the proto needs.
    return [
        m
        for m in _modules_after(statement, **env)
        if any(m == sdk or m.startswith(sdk + ".") for sdk in SDKS)
    ]


def test_the_ingress_process_loads_no_provider_sdk() -> None:
    assert _loaded_by("import ingress, ingress.__main__") == []


def test_importing_tasks_is_the_app_the_contract_and_the_queues_only() -> None:
    assert _loaded_by("import tasks; tasks.app.conf.task_queues") == []


def test_a_worker_loads_the_task_modules_through_celeryconfig_and_sdks_with_its_clients() -> None:
    start = "import tasks; tasks.app.loader.import_default_modules()"
    loaded = _modules_after(start)
    assert {"tasks.attempt", "tasks.finish"} <= set(loaded)
    assert _loaded_by(start) == []
    # The SDK of a configured provider loads when the worker process builds its clients.
    build = f"{start}; from tasks.deps import get_deps; get_deps()"
    assert "telegram" in _loaded_by(build, NOTIFY_TELEGRAM_TOKEN="1000001:sandbox")


def test_every_concrete_channel_type_has_exactly_one_registered_channel() -> None:
    concrete = {value for value in ChannelType.values() if value != ChannelType.ACTIVE_SESSION}
    assert set(CHANNELS) == concrete
    for kind, channel in CHANNELS.items():
        assert isinstance(channel, Channel)
        assert channel.type == kind, channel


def test_every_channel_has_a_sandbox_route_but_web() -> None:
    """WEB's other end is our own session server, which the tests run for real."""
    for channel in CHANNELS.values():
        if channel.type == ChannelType.WEB:
            assert channel.sandbox is None
            continue
        assert channel.sandbox in PROVIDERS, channel.name
        assert channel.sandbox in PROVIDER_ROUTES, channel.name
    assert set(PROVIDER_ROUTES) == set(PROVIDERS)


def test_queues_derive_from_the_registry() -> None:
    names = [channel.name.lower() for channel in CHANNELS.values()]
    assert [f"{p}.{n}" for p in ("critical", "normal") for n in ("control", *names)] == ALL_QUEUES


def test_session_channels_and_addresses_are_declared() -> None:
    sessions = {c.name for c in CHANNELS.values() if c.has_session}
    assert sessions == {"WEB", "TELEGRAM"}
    fields = [c.address_spec.field for c in CHANNELS.values() if c.address_spec]
    assert len(fields) == len(set(fields)) == len(CHANNELS) - 1  # every one but WEB


#: A store's Redis client (`store.client.…`) or Redis itself; `xmlrpc.client`, `http.client`
#: are no Redis.
REDIS_REACH = re.compile(r"(?<!xmlrpc)(?<!http)\.client\.|redis\.Redis|import redis|from redis")
#: kombu's Redis transport, subclassed for the broker (not the store), and the benchmarks' bare
#: Celery baseline: the exceptions.
NOT_OURS = (ROOT / "tasks" / "broker.py", ROOT / "bench" / "baseline_tasks.py")


def test_only_store_talks_to_redis() -> None:
    offenders = []
    for place in NOT_STORE:
        for path in [place] if place.is_file() else sorted(place.rglob("*.py")):
            if path in NOT_OURS:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if REDIS_REACH.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
