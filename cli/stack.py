"""The local stack and the long-running processes: `notify up`, `scheduler`, `ingress`, `telegram-bot`."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from settings import LOCAL_STACK_ENV_FILE, Settings

from .common import ROOT, settings_or_exit, store_or_exit

__all__ = ["ingress", "scheduler", "telegram_bot", "up"]


def up(
    procfile: Annotated[Path, typer.Option(help="Processes to run (honcho Procfile).")] = ROOT
    / "Procfile",
) -> None:
    """Run the whole pipeline locally: Redis (embedded when none answers), then every Procfile process.

    Ctrl-C stops them all.

    \b
    Example:
      notify up
      notify send --help        # in a second terminal
    """
    from honcho.environ import parse_procfile
    from honcho.manager import Manager

    from logsetup import configure_logging
    from store import EmbeddedRedisError, redis_answers, start_embedded_redis

    configure_logging()
    settings = settings_or_exit()
    redis_process = None
    if not redis_answers(settings.redis_url):
        typer.echo(f"notify: nothing answers at {settings.redis_url}; starting the embedded Redis")
        try:
            redis_process = start_embedded_redis(
                settings.redis_url, Path(settings.data_dir) / "redis"
            )
        except EmbeddedRedisError as exc:
            typer.echo(f"notify: {exc}", err=True)
            raise typer.Exit(1) from exc
    manager = Manager()
    try:
        env = {**os.environ, **_local_stack_env(settings)}
        for name, process in parse_procfile(procfile.read_text()).processes.items():
            manager.add_process(name, process, env=env, cwd=str(ROOT))
        manager.loop()
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(10)
    raise typer.Exit(manager.returncode or 0)


def _local_stack_env(settings: Settings) -> dict[str, str]:
    """Children find the same Redis, and every provider not configured by the operator points
    at the local sandbox (written to the local-stack env file, so a second terminal agrees)."""
    from sandbox import (
        PROJECT_ID,
        fcm_endpoint,
        sendgrid_host,
        service_account_file,
        telegram_api_url,
    )

    sandbox_url = "http://127.0.0.1:8590"
    defaults = {}
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
    flower_auth = os.environ.get("NOTIFY_FLOWER_BASIC_AUTH") or settings.flower_basic_auth
    if not flower_auth:
        import secrets

        flower_auth = f"notify:{secrets.token_urlsafe(12)}"
    defaults["NOTIFY_FLOWER_BASIC_AUTH"] = flower_auth
    user, _, password = flower_auth.partition(":")
    typer.echo(f"notify: Flower at http://127.0.0.1:5555 (user {user}, password {password})")
    env_file = Path(os.environ.get("NOTIFY_ENV_FILE", LOCAL_STACK_ENV_FILE))
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text(
        "# Written by `notify up`: providers of the local stack (the sandbox).\n"
        + "".join(f"{name}={value}\n" for name, value in defaults.items())
    )
    if defaults:
        typer.echo(
            f"notify: providers not configured use the sandbox at {sandbox_url} ({env_file})"
        )
    bin_dir = str(Path(sys.executable).parent)
    return {
        **defaults,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "NOTIFY_REDIS_URL": settings.redis_url,
        "PYTHONUNBUFFERED": "1",
    }


def scheduler() -> None:
    """Publish CRITICAL rounds when they come due, and restart rounds whose chain went quiet.

    \b
    Example:
      notify scheduler          # several may run at once
    """
    import signal

    from logsetup import configure_logging
    from tasks.scheduler import run_scheduler

    configure_logging()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    settings = settings_or_exit()
    from tasks.startup import warn_unless_durable

    warn_unless_durable(settings, "scheduler")
    run_scheduler(store_or_exit(settings), settings, stop)


def ingress() -> None:
    """Run one ingress replica in the foreground (same as `python -m ingress`).

    \b
    Example:
      NOTIFY_INGRESS_ID=ingress-1 notify ingress
    """
    from ingress.__main__ import main as ingress_main

    raise typer.Exit(ingress_main())


def telegram_bot() -> None:
    """Run the Telegram bot: long-polls getUpdates, links chats on /start <token>, marks chats active.

    \b
    Example:
      NOTIFY_TELEGRAM_TOKEN=123456:ABC notify telegram-bot
    """
    from telegram_bot import main as bot_main

    raise typer.Exit(bot_main())
