"""The client installs on its own (`pip install ./client`: pyzmq and protobuf only) into a fresh
virtual environment, imports nothing of the service, and delivers an event through the real
pipeline from there."""

from __future__ import annotations

import json
import subprocess
import venv

from tests.helpers import ROOT

SERVER_SIDE = ("celery", "kombu", "redis", "httpx", "pydantic", "pydantic_settings", "telegram",
               "sendgrid", "pyfcm", "settings", "tasks", "store", "channels", "ingress",
               "sessions", "sandbox", "cli")  # fmt: skip

PROBE = """
import json, sys
from client import NotifyClient, OrderEventPayload
from importlib.metadata import distributions

user, router = sys.argv[1:]
with NotifyClient(router, identity=b"standalone") as client:
    ack = client.notify(user, "ORDER_FILLED", "CRITICAL", ["DISCORD"],
                        OrderEventPayload(symbol="BTC/USDT", side="sell", fill_quantity="1")).result(60)
print(json.dumps({
    "status": ack.status, "via": ack.delivered_via,
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
    "installed": sorted(d.metadata["Name"].lower() for d in distributions()),
    "client": sys.modules["client"].__file__,
}))
"""


def test_the_client_installs_alone_and_delivers(pipeline, settings, store, new_id, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(ROOT / "client")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    user = new_id("standalone")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/8/{user}")
    # Run outside the repository, so nothing of it can be imported from the working directory.
    probe = subprocess.run(
        [python, "-c", PROBE, user, settings.router_connect],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-2000:]
    seen = json.loads(probe.stdout.splitlines()[-1])
    assert (seen["status"], seen["via"]) == (0, 5)  # DELIVERED via DISCORD
    assert seen["client"].startswith(str(env_dir)), "the installed copy, not the repository's"
    assert not set(SERVER_SIDE) & set(seen["modules"])
    assert set(seen["installed"]) - {"pip", "setuptools"} == {"notify-client", "pyzmq", "protobuf"}
