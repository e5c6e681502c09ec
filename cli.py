"""`notify …`: run the local stack, manage the subscriber directory, send events, inspect deliveries.

\b
Examples:
  notify up                # Redis (embedded if none), ingress, worker, sandbox, ...
  notify user set alice --discord-webhook http://127.0.0.1:8590/discord/api/webhooks/1/demo
  notify send --user alice --type ORDER_FILLED --priority CRITICAL --channel DISCORD
  notify log --user alice EVENT_ID
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from settings import LOCAL_STACK_ENV_FILE, Settings

__all__ = ["app", "main"]

app = typer.Typer(
    help=__doc__, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False
)
user_app = typer.Typer(
    help="The subscriber directory: each user's channel addresses.\n\n\b\nExample:\n  notify user set alice --email alice@example.com",
    no_args_is_help=True,
)
sandbox_app = typer.Typer(
    help="The local provider sandbox (default port 8590).\n\n\b\nExamples:\n"
    "  notify sandbox\n  notify sandbox list --provider discord"
)
sessions_app = typer.Typer(
    help="The WebSocket session server for browsers (default port 8570).\n\n\b\nExamples:\n"
    "  notify sessions\n  notify sessions token alice"
)
app.add_typer(user_app, name="user")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(sessions_app, name="sessions")
keys_app = typer.Typer(
    help="CURVE keys: the ingress's, and the registry of client keys it admits.\n\n\b\n"
    "Examples:\n  notify keys server\n  notify keys add alice\n  notify keys list",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

ROOT = Path(__file__).resolve().parent


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:
        typer.echo(f"notify: bad configuration: {exc}", err=True)
        raise typer.Exit(2) from exc


def _store(settings: Settings):
    from store import Store, redis_answers

    if not redis_answers(settings.redis_url):
        typer.echo(
            f"notify: no Redis answers at {settings.redis_url} (start the stack with `notify up`)",
            err=True,
        )
        raise typer.Exit(1)
    return Store(settings.redis_url, settings.key_prefix)


# --- the local stack -------------------------------------------------------------------------


@app.command()
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
    settings = _settings()
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


@app.command()
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
    settings = _settings()
    from tasks.startup import warn_unless_durable

    warn_unless_durable(settings, "scheduler")
    run_scheduler(_store(settings), settings, stop)


@app.command()
def ingress() -> None:
    """Run one ingress replica in the foreground (same as `python -m ingress`).

    \b
    Example:
      NOTIFY_INGRESS_ID=ingress-1 notify ingress
    """
    from ingress.__main__ import main as ingress_main

    raise typer.Exit(ingress_main())


# --- the subscriber directory ------------------------------------------------------------------


def _address_parameters() -> list[inspect.Parameter]:
    """One option per channel address, from the channel registry (`--email`, `--push-token`,
    `--remove-push-token`, ...)."""
    from channels import CHANNELS

    params = []
    for channel in CHANNELS.values():
        spec = channel.address_spec
        if spec is None:
            continue
        if spec.many:
            for name, flag, text in (
                (spec.field, spec.flag, spec.help),
                (
                    f"remove_{spec.field}",
                    "--remove-" + spec.flag[2:],
                    f"A {spec.flag} value to remove (repeatable).",
                ),
            ):
                option = typer.Option(flag, help=text)
                params.append(_keyword(name, Annotated[list[str] | None, option]))
        else:
            params.append(
                _keyword(spec.field, Annotated[str | None, typer.Option(spec.flag, help=spec.help)])
            )
    return params


def _keyword(name: str, annotation: object) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )


def _address_problem(given: dict[str, object]) -> str | None:
    """The first address option a channel refuses (e.g. a webhook that is not http(s))."""
    from channels import CHANNELS

    for channel in CHANNELS.values():
        spec = channel.address_spec
        value = given.get(spec.field) if spec else None
        for one in value if isinstance(value, list) else [value] if value is not None else []:
            problem = channel.check_address(str(one))
            if problem:
                return problem
    return None


def _address_changes(current, given: dict[str, object]) -> dict[str, object]:
    """The profile fields the address options change (lists: added, then removed)."""
    from channels import CHANNELS

    changes: dict[str, object] = {}
    for channel in CHANNELS.values():
        spec = channel.address_spec
        if spec is None:
            continue
        if spec.many:
            values = list(getattr(current, spec.field)) if current else []
            values += [v for v in given.get(spec.field) or [] if v not in values]
            removed = given.get(f"remove_{spec.field}") or []
            changes[spec.field] = tuple(v for v in values if v not in removed)
        elif given.get(spec.field) is not None:
            changes[spec.field] = given[spec.field]
    return changes


def user_set(
    user_id: str,
    *,
    mute: list[str] | None = None,
    unmute: list[str] | None = None,
    **addresses: object,
) -> None:
    """Set a user's addresses and mutes; unnamed ones stay as they are.

    \b
    Examples:
      notify user set alice --email alice@example.com --telegram-chat 4242
      notify user set alice --slack-webhook https://hooks.slack.com/services/T/B/X
      notify user set alice --push-token device-abc --mute EMAIL:STRATEGY_LOG
    """
    from channels import CHANNELS
    from proto import EventType
    from store import validate_user_id

    error = validate_user_id(user_id) or _address_problem(addresses)
    concrete = {channel.name for channel in CHANNELS.values()}
    for pair in (mute or []) + (unmute or []):
        channel, _, event_type = pair.partition(":")
        if channel not in concrete or event_type not in EventType.keys():
            error = (
                error
                or f"--mute/--unmute take CHANNEL:EVENT_TYPE with a concrete channel, e.g. EMAIL:STRATEGY_LOG (got {pair!r})"
            )
    if error:
        typer.echo(f"notify: {error}", err=True)
        raise typer.Exit(2)
    store = _store(_settings())
    current = store.directory.get(user_id)
    changes = _address_changes(current, addresses)
    muted = list(current.muted) if current else []
    muted += [m for m in mute or [] if m not in muted]
    changes["muted"] = tuple(m for m in muted if m not in (unmute or []))
    profile = store.directory.update(user_id, **changes)
    _print_profile(profile)


user_set.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter("user_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
        *_address_parameters(),
        _keyword(
            "mute",
            Annotated[
                list[str] | None, typer.Option(help="CHANNEL:EVENT_TYPE to skip (repeatable).")
            ],
        ),
        _keyword(
            "unmute",
            Annotated[list[str] | None, typer.Option(help="CHANNEL:EVENT_TYPE to deliver again.")],
        ),
    ]
)
user_app.command("set")(user_set)


@user_app.command("link-telegram")
def user_link_telegram(user_id: str) -> None:
    """Print a one-time https://t.me/<bot>?start=<token> link; opening it links the user's chat.

    The bot process (`notify telegram-bot`) must be running to answer the /start.

    \b
    Example:
      notify user link-telegram alice
    """
    from telegram_bot import LinkError, create_link

    settings = _settings()
    try:
        typer.echo(create_link(settings, _store(settings), user_id))
    except (ValueError, LinkError) as exc:
        typer.echo(f"notify: {exc}", err=True)
        raise typer.Exit(2 if isinstance(exc, ValueError) else 1) from exc


@user_app.command("show")
def user_show(user_id: str) -> None:
    """Print a user's addresses and preferences.

    \b
    Example:
      notify user show alice
    """
    profile = _store(_settings()).directory.get(user_id)
    if profile is None:
        typer.echo(f"notify: no user {user_id!r} in the directory", err=True)
        raise typer.Exit(1)
    _print_profile(profile)


def _print_profile(profile) -> None:
    for name, value in profile.as_dict().items():
        shown = ", ".join(value) if isinstance(value, list) else value
        typer.echo(f"{name + ':':17}{shown or '-'}")


@app.command("telegram-bot")
def telegram_bot() -> None:
    """Run the Telegram bot: long-polls getUpdates, links chats on /start <token>, marks chats active.

    \b
    Example:
      NOTIFY_TELEGRAM_TOKEN=123456:ABC notify telegram-bot
    """
    from telegram_bot import main as bot_main

    raise typer.Exit(bot_main())


# --- sending -----------------------------------------------------------------------------------


def _parse_channels(values: list[str]) -> list[tuple[str, bool]]:
    from proto import ChannelType

    channels = []
    for value in values:
        name, _, flag = value.partition(":")
        if name.upper() not in ChannelType.keys() or flag not in ("", "active"):
            known = ", ".join(ChannelType.keys())
            raise typer.BadParameter(f"{value!r}: use NAME or NAME:active with NAME one of {known}")
        channels.append((name.upper(), flag == "active"))
    return channels


@app.command()
def send(
    user: Annotated[str, typer.Option(help="User id.")],
    type_: Annotated[str, typer.Option("--type", help="EventType name, e.g. ORDER_FILLED.")],
    priority: Annotated[str, typer.Option(help="INFORMATIONAL, NORMAL or CRITICAL.")] = "NORMAL",
    channel: Annotated[
        list[str] | None,
        typer.Option(help="Channel in order (repeatable); NAME:active sets only_if_active."),
    ] = None,
    payload: Annotated[str, typer.Option(help="JSON object.")] = "{}",
    event_id: Annotated[str | None, typer.Option(help="Event id (default: a new UUID).")] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for a final ack (default: the event's deadline or TTL)."
        ),
    ] = None,
) -> None:
    """Send one event through the ingress and print its acks as they arrive.

    Exit status: 0 DELIVERED (or an INFORMATIONAL event sent), 1 ACK_ERROR, 2 timeout or bad usage.

    \b
    Examples:
      notify send --user alice --type ORDER_FILLED --priority CRITICAL --channel DISCORD --channel SLACK
      notify send --user alice --type ALERT_TRIGGERED --channel WEB --channel TELEGRAM:active
    """
    from client import CurveKeys, NotifyClient, give_up_after_s, make_event
    from proto import AckStatus, ChannelType, EventType, Priority

    if type_.upper() not in EventType.keys():
        raise typer.BadParameter(
            f"unknown event type {type_!r}; one of {', '.join(EventType.keys())}",
            param_hint="--type",
        )
    if priority.upper() not in Priority.keys():
        raise typer.BadParameter(
            f"unknown priority {priority!r}; one of {', '.join(Priority.keys())}",
            param_hint="--priority",
        )
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--payload") from exc
    if not isinstance(body, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--payload")
    event = make_event(
        user, type_.upper(), priority.upper(), _parse_channels(channel or []), body, event_id
    )
    settings = _settings()
    if timeout is None:
        timeout = give_up_after_s(event, settings.critical_deadline_s, settings.normal_ttl_s)
    last_line = None
    with NotifyClient(settings.router_connect, curve=CurveKeys.from_settings(settings)) as client:
        for ack in client.deliver(event, timeout_s=timeout):
            if ack.status == AckStatus.DELIVERED:
                line = f"DELIVERED via {ChannelType.Name(ack.delivered_via)}"
            elif ack.status == AckStatus.ACK_ERROR:
                line = f"ACK_ERROR: {ack.error_message}"
            else:
                line = AckStatus.Name(ack.status)
            if line != last_line:
                typer.echo(line)
                last_line = line
            if ack.status == AckStatus.DELIVERED:
                raise typer.Exit(0)
            if ack.status == AckStatus.ACK_ERROR:
                raise typer.Exit(1)
    if event.delivery.priority == Priority.INFORMATIONAL:
        typer.echo("sent (INFORMATIONAL: no ack)")
        raise typer.Exit(0)
    typer.echo(f"timeout: no final ack for {event.event_id} within {timeout:g}s", err=True)
    raise typer.Exit(2)


@app.command()
def stats() -> None:
    """Print the events in flight (open, per priority, and the oldest's age) and the due set.

    \b
    Example:
      notify stats
    """
    import time

    store = _store(_settings())
    now = time.time()
    for priority, (count, oldest) in store.claims.open_counts().items():
        age = f"{now - oldest:.1f}s" if oldest is not None else "-"
        typer.echo(f"open {priority:8} {count:8d}   oldest received {age} ago")
    due_at = store.due.oldest()
    if due_at is None:
        when = "-"
    else:
        when = f"{now - due_at:.1f}s ago" if due_at <= now else f"in {due_at - now:.1f}s"
    typer.echo(f"due set       {store.due.count():8d}   earliest due {when}")


@app.command("log")
def delivery_log(user: Annotated[str, typer.Option(help="User id.")], event_id: str) -> None:
    """Print an event's claim state and every attempt of its delivery log.

    \b
    Example:
      notify log --user alice liq-1
    """
    store = _store(_settings())
    claim = store.claims.read(user, event_id)
    if not claim:
        typer.echo(f"notify: no event {event_id!r} for user {user!r}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"state: {claim.get('state')} via={claim.get('delivered_via') or '-'} round={claim.get('round')}"
    )
    if claim.get("error"):
        typer.echo(f"error: {claim['error']}")
    for entry in store.delivery_log.read(user, event_id):
        typer.echo(
            f"  round={entry.get('round')} try={entry.get('try')} {entry.get('channel')}: "
            f"{entry.get('kind')} {entry.get('detail', '')}"
        )


# --- CURVE keys --------------------------------------------------------------------------------


@keys_app.command("server")
def keys_server() -> None:
    """Print a new key pair for the ingress: PUBLIC SECRET (Z85, one line).

    Give SECRET to the ingress (NOTIFY_CURVE_SERVER_SECRET or NOTIFY_CURVE_SERVER_SECRET_FILE)
    and PUBLIC to every client (NOTIFY_CURVE_SERVER_PUBLIC).

    \b
    Example:
      notify keys server > ingress.keys
    """
    import zmq

    public, secret = zmq.curve_keypair()
    typer.echo(f"{public.decode()} {secret.decode()}")


@keys_app.command("add")
def keys_add(
    user_id: Annotated[
        str | None, typer.Argument(help="The user a container key sends for.")
    ] = None,
    subscriber: Annotated[
        str | None, typer.Option(help="NAME: a key that subscribes on the XPUB (a session server).")
    ] = None,
    any_user: Annotated[
        str | None, typer.Option(help="NAME: a trusted platform service that sends for any user.")
    ] = None,
) -> None:
    """Create a client key pair, register its public key, print PUBLIC SECRET (Z85, one line).

    \b
    Examples:
      notify keys add alice                        # a container of alice's
      notify keys add --subscriber sessions-1      # a session server
      notify keys add --any-user risk-engine       # sends for any user
    """
    import zmq

    from store import Role, validate_user_id

    chosen = [v for v in (user_id, subscriber, any_user) if v is not None]
    if len(chosen) != 1:
        typer.echo(
            "notify: give exactly one of USER_ID, --subscriber NAME, --any-user NAME", err=True
        )
        raise typer.Exit(2)
    if user_id is not None and (problem := validate_user_id(user_id)):
        typer.echo(f"notify: {problem}", err=True)
        raise typer.Exit(2)
    role = (
        Role.CONTAINER if user_id is not None else Role.SUBSCRIBER if subscriber else Role.SERVICE
    )
    public, secret = zmq.curve_keypair()
    _store(_settings()).keyring.add(public.decode(), role, chosen[0])
    typer.echo(f"{public.decode()} {secret.decode()}")


@keys_app.command("list")
def keys_list() -> None:
    """Print every registered client key: PUBLIC ROLE SUBJECT.

    \b
    Example:
      notify keys list
    """
    for public, grant in sorted(_store(_settings()).keyring.all().items()):
        typer.echo(f"{public} {grant.role} {grant.subject}")


@keys_app.command("revoke")
def keys_revoke(public: str) -> None:
    """Revoke a client key: refused at once, its connections dropped within seconds.

    A Z85 key may start with "-": put `--` before it.

    \b
    Example:
      notify keys revoke -- 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'
    """
    if not _store(_settings()).keyring.revoke(public):
        typer.echo(f"notify: no such key: {public}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {public}")


# --- sandbox -----------------------------------------------------------------------------------


@sandbox_app.callback(invoke_without_command=True)
def sandbox_run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8590,
) -> None:
    """Serve the provider sandbox in the foreground (page at http://127.0.0.1:8590/).

    \b
    Examples:
      notify sandbox
      notify sandbox list --provider discord
    """
    if ctx.invoked_subcommand is None:
        from sandbox import run

        run(host, port)


@sandbox_app.command("list")
def sandbox_list(
    provider: Annotated[
        str | None, typer.Option(help="Only this provider (discord, slack, …).")
    ] = None,
    url: Annotated[str, typer.Option(help="Sandbox base URL.")] = "http://127.0.0.1:8590",
) -> None:
    """Print what the sandbox received, oldest first.

    \b
    Example:
      notify sandbox list --provider slack
    """
    import httpx

    from sandbox import list_requests

    try:
        records = list_requests(url, provider)
    except httpx.HTTPError as exc:
        typer.echo(f"notify: sandbox at {url} not reachable: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from exc
    for record in records:
        body = record.get("json") if record.get("json") is not None else record.get("body")
        typer.echo(
            f"#{record['id']} {record['provider']} {record['method']} {record['path']} -> "
            f"{record['status']} {json.dumps(body)[:300]}"
        )


# --- web sessions ------------------------------------------------------------------------------


@sessions_app.callback(invoke_without_command=True)
def sessions_run(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; * = every interface with a key, else loopback."),
    ] = "*",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8570,
) -> None:
    """Serve the session server: WebSocket at /ws?token=…, the notifications page at /.

    \b
    Example:
      notify sessions
      notify sessions token alice   # then open the link it prints
    """
    if ctx.invoked_subcommand is None:
        import sessions

        raise typer.Exit(sessions.run(_settings(), host, port))


@sessions_app.command("revoke")
def sessions_revoke(user_id: str) -> None:
    """Revoke every session token of USER_ID issued until now; open sockets close within seconds.

    \b
    Example:
      notify sessions revoke alice
    """
    from store import validate_user_id

    if problem := validate_user_id(user_id):
        typer.echo(f"notify: {problem}", err=True)
        raise typer.Exit(2)
    _store(_settings()).revoke_sessions(user_id)
    typer.echo(f"revoked the session tokens of {user_id}")


@sessions_app.command("token")
def sessions_token(
    user_id: str,
    ttl: Annotated[int, typer.Option(help="Seconds the token is valid.")] = 86400,
    url: Annotated[
        str, typer.Option(help="Base URL of the session server.")
    ] = "http://127.0.0.1:8570",
) -> None:
    """Print a signed session token for USER_ID and the page link that uses it.

    \b
    Example:
      notify sessions token alice --ttl 3600
    """
    import sessions

    settings = _settings()
    try:
        token = sessions.issue_token(settings, _store(settings), user_id, ttl)
    except ValueError as exc:
        typer.echo(f"notify: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(token)
    typer.echo(sessions.page_url(token, url))


def main() -> None:
    app(prog_name="notify")


if __name__ == "__main__":
    main()
