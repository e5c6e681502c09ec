"""`notify up`: the whole pipeline on this machine, for a newcomer and a demo.

Redis first (the embedded one when nothing answers), then every Procfile process under
supervisord (cli/supervise.py: a process that exits is reported with its last log lines and
started again), one block with every address, and, on a terminal, one live status line.
Providers that are not configured point at the local sandbox; the choice is written to the
local-stack env file, so a second terminal's `notify …` finds the same sandbox.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from settings import LOCAL_STACK_ENV_FILE, Settings

from .common import ROOT, settings_or_exit
from .supervise import SUPERVISOR_ERRORS, Supervised, read_procfile

__all__ = ["up"]

#: How often the status line is refreshed and exits are looked for.
REFRESH_S = 1.0


def up(
    procfile: Annotated[Path, typer.Option(help="Processes to run (Procfile format).")] = ROOT
    / "Procfile",
) -> None:
    """Run the whole pipeline locally: Redis (embedded when none answers), then every Procfile
    process (ingress, worker, scheduler, session server, Telegram bot, sandbox, Flower), each
    restarted when it exits. Ctrl-C stops them all.

    \b
    Example:
      notify up
      notify demo               # in a second terminal: a minute of realistic traffic
    """
    from logsetup import configure_logging
    from store import EmbeddedRedisError, redis_answers, start_embedded_redis

    configure_logging()
    settings = settings_or_exit()
    processes = read_procfile(procfile)
    if "TELEGRAM" in settings.channels_off_names:  # the bot would only say so and exit
        processes.pop("telegram-bot", None)
    stack = Supervised(processes, Path(settings.data_dir), ROOT)
    if stack.running_elsewhere():
        typer.echo(
            f"notify: a local stack already runs on {settings.data_dir} (its supervisord answers "
            f"on {stack.socket}); stop it first, or give this one NOTIFY_DATA_DIR of its own",
            err=True,
        )
        raise typer.Exit(1)
    redis_process = None
    embedded = not redis_answers(settings.redis_url)
    if embedded:
        typer.echo(f"notify: nothing answers at {settings.redis_url}; starting the embedded Redis")
        try:
            redis_process = start_embedded_redis(
                settings.redis_url, Path(settings.data_dir) / "redis"
            )
        except EmbeddedRedisError as exc:
            typer.echo(f"notify: {exc}", err=True)
            raise typer.Exit(1) from exc
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        env = {**os.environ, **_local_stack_env(settings)}
        stack.start(env)
        _print_addresses(settings, env, stack, embedded)
        _watch(stack, settings, stopping)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, *SUPERVISOR_ERRORS) as exc:
        typer.echo(f"notify: {exc or type(exc).__name__}", err=True)
        raise typer.Exit(1) from exc
    finally:
        if sys.stdout.isatty():
            typer.echo("")
        typer.echo("notify: stopping every process")
        stack.stop()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(10)


def _watch(stack: Supervised, settings: Settings, stopping: list) -> None:
    """Until Ctrl-C or SIGTERM: report exits (with their last lines) and keep the status line."""
    live = sys.stdout.isatty()
    while not stopping:
        for restart in stack.restarts():
            if live:
                typer.echo("\r\x1b[2K", nl=False)
            times = stack.exits[restart.name]
            if times > 1:  # once with its lines is enough; a process that keeps failing says so
                typer.echo(
                    f"notify: {restart.name} exited again ({times} times); see {stack.log_of(restart.name)}"
                )
                continue
            status = "" if restart.exit_status is None else f" (exit status {restart.exit_status})"
            typer.echo(f"notify: {restart.name} exited{status}; starting it again. Last lines:")
            for line in restart.tail:
                typer.echo(f"  {restart.name} | {line}")
        if live:
            typer.echo(f"\r\x1b[2K{_status_line(settings, stack)}", nl=False)
        time.sleep(REFRESH_S)


def _status_line(settings: Settings, stack: Supervised) -> str:
    """events in / queued / delivered / failed, from the ingress's metrics; processes up."""
    states = stack.states()
    running = sum(state == "RUNNING" for state in states.values())
    counts = _ingress_counts(settings.metrics_port)
    traffic = (
        "events in {in} · queued {queued} · delivered {delivered} · failed {failed}".format_map(
            counts
        )
        if counts
        else "ingress metrics not answering yet"
    )
    return f"{time.strftime('%H:%M:%S')}  {traffic}  ·  processes {running}/{len(states)} up"


def _ingress_counts(port: int) -> dict[str, int] | None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    if not port:
        return None
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=0.5).text
    except httpx.HTTPError:
        return None
    counts = {"in": 0, "queued": 0, "delivered": 0, "failed": 0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "notify_ingress_events_total" and labels.get("route") != "resend":
                counts["in"] += int(sample.value)
                counts["queued"] += int(labels.get("route") == "queued") * int(sample.value)
                if labels.get("route") == "xpub" and labels.get("priority") == "NORMAL":
                    counts["delivered"] += int(sample.value)  # the fast path: delivered at once
            elif sample.name == "notify_ingress_end_to_end_seconds_count":
                key = "delivered" if labels.get("status") == "DELIVERED" else "failed"
                counts[key] += int(sample.value)
    return counts


def _print_addresses(settings: Settings, env: dict[str, str], stack: Supervised, embedded: bool):
    # Printed even when they are the operator's own (NOTIFY_FLOWER_BASIC_AUTH): this is the
    # local stack, on loopback, and the terminal that started it is the one that needs them.
    user, _, password = env["NOTIFY_FLOWER_BASIC_AUTH"].partition(":")
    redis_note = f"embedded, data in {Path(settings.data_dir) / 'redis'}" if embedded else "yours"
    rows = [
        ("ROUTER (containers)", settings.router_connect),
        ("XPUB (live sessions)", settings.xpub_connect),
        ("session page", f"http://127.0.0.1:{settings.sessions_port}/  (a link: notify sessions token USER)"),
        ("sandbox page", f"http://127.0.0.1:{settings.sandbox_port}/  (what the providers received)"),
        ("Flower", f"http://127.0.0.1:{settings.flower_port}/  (user {user}, password {password})"),
        ("metrics", f"http://127.0.0.1:{settings.metrics_port}/metrics (ingress), http://127.0.0.1:{settings.worker_metrics_port}/metrics (worker)"),
        ("Redis", f"{settings.redis_url}  ({redis_note})"),
        ("logs", f"{stack.logs}/<process>.log"),
    ]  # fmt: skip
    typer.echo(f"notify: the local stack is starting: {', '.join(stack.names)}")
    for label, value in rows:
        typer.echo(f"  {label:21} {value}")
    typer.echo(
        "  try it                notify demo   (in a second terminal; Ctrl-C here stops all)"
    )


def _local_stack_env(settings: Settings) -> dict[str, str]:
    """Children find the same Redis and ports, and every provider not configured by the operator
    points at the local sandbox (written to the local-stack env file, so a second terminal
    agrees)."""
    from sandbox import (
        PROJECT_ID,
        fcm_endpoint,
        sendgrid_host,
        service_account_file,
        telegram_api_url,
    )

    sandbox_url = f"http://127.0.0.1:{settings.sandbox_port}"
    defaults = {}
    # What the operator configured is in the environment; the env file is ours to rewrite.
    if not os.environ.get("NOTIFY_TELEGRAM_TOKEN"):
        defaults |= {
            "NOTIFY_TELEGRAM_TOKEN": "1000001:sandbox",
            "NOTIFY_TELEGRAM_API_URL": telegram_api_url(sandbox_url),
        }
    if not os.environ.get("NOTIFY_SENDGRID_API_KEY"):
        defaults |= {
            "NOTIFY_SENDGRID_API_KEY": "SG.sandbox",
            "NOTIFY_SENDGRID_HOST": sendgrid_host(sandbox_url),
        }
    if not os.environ.get("NOTIFY_FCM_CREDENTIALS"):
        credentials = service_account_file(sandbox_url, Path(settings.data_dir) / "sandbox")
        defaults |= {
            "NOTIFY_FCM_CREDENTIALS": str(credentials.resolve()),
            "NOTIFY_FCM_PROJECT_ID": PROJECT_ID,
            "NOTIFY_FCM_ENDPOINT": fcm_endpoint(sandbox_url),
        }
    flower_auth = os.environ.get("NOTIFY_FLOWER_BASIC_AUTH")
    defaults["NOTIFY_FLOWER_BASIC_AUTH"] = flower_auth or f"notify:{secrets.token_urlsafe(12)}"
    defaults["NOTIFY_SANDBOX_URL"] = sandbox_url
    env_file = Path(os.environ.get("NOTIFY_ENV_FILE", LOCAL_STACK_ENV_FILE))
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.touch(mode=0o600)
    env_file.chmod(0o600)  # it holds the Flower password
    env_file.write_text(
        "# Written by `notify up`: providers of the local stack (the sandbox).\n"
        + "".join(f"{name}={value}\n" for name, value in defaults.items())
    )
    bin_dir = str(Path(sys.executable).parent)
    return {
        **defaults,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "NOTIFY_REDIS_URL": settings.redis_url,
        "NOTIFY_SANDBOX_PORT": str(settings.sandbox_port),
        "NOTIFY_SESSIONS_PORT": str(settings.sessions_port),
        "NOTIFY_FLOWER_PORT": str(settings.flower_port),
        "PYTHONUNBUFFERED": "1",
    }
