"""The client installs on its own (pyzmq and protobuf only) into a fresh virtual environment,
imports nothing of the service, and delivers an event through the real pipeline from there. It
is built as a packager would: an sdist made from client/, and the wheel made from that sdist
(`pip install ./client` builds the same wheel straight from the checkout)."""

from __future__ import annotations

import json
import subprocess
import tarfile
import venv
import zipfile

import client
from tests.helpers import ROOT

SERVER_SIDE = ("celery", "kombu", "redis", "httpx", "pydantic", "pydantic_settings", "telegram",
               "sendgrid", "pyfcm", "settings", "tasks", "store", "channels", "ingress",
               "sessions", "sandbox", "cli")  # fmt: skip

PROBE = """
import json, sys
from client import NotifyClient, OrderEventPayload
from importlib.metadata import distributions, version

user, router = sys.argv[1:]
with NotifyClient(router, identity=b"standalone") as client:
    ack = client.notify(user, "ORDER_FILLED", "CRITICAL", ["DISCORD"],
                        OrderEventPayload(symbol="BTC/USDT", side="sell", fill_quantity="1")).result(60)
print(json.dumps({
    "status": ack.status, "via": ack.delivered_via,
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
    "installed": sorted(d.metadata["Name"].lower() for d in distributions()),
    "client": sys.modules["client"].__file__,
    "version": version("notify-client"), "__version__": sys.modules["client"].__version__,
}))
"""


BUILD = """
import sys
from hatchling.builders.sdist import SdistBuilder
from hatchling.builders.wheel import WheelBuilder
root, out = sys.argv[1:]
print(*SdistBuilder(root).build(directory=out), *WheelBuilder(root).build(directory=out))
"""


def _pip(python: str, *args: str) -> None:
    done = subprocess.run(
        [python, "-m", "pip", *args, "--quiet"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_client_installs_alone_and_delivers(pipeline, settings, store, new_id, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    # The build backend beside the venv, not in it: only the client may be installed there.
    _pip(python, "install", "--target", str(tmp_path / "backend"), "hatchling")
    built = subprocess.run(
        [python, "-c", BUILD, str(ROOT / "client"), str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(tmp_path / "backend"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    sdist, wheel = built.stdout.split()
    with zipfile.ZipFile(wheel) as archive:
        packaged = {name.split("/")[0] for name in archive.namelist()}
        assert not {n for n in archive.namelist() if n.endswith((".toml", ".md", "hatch_build.py"))}
    assert packaged == {"client", "proto", f"notify_client-{client.__version__}.dist-info"}
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert f"notify_client-{client.__version__}/proto/validation.py" in names
    _pip(python, "install", sdist)  # pip builds the wheel from the sdist alone
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
    assert seen["version"] == seen["__version__"] == client.__version__
