"""`notify user …`: the subscriber directory, each user's channel addresses and mutes."""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["user_app"]

user_app = typer.Typer(
    help="The subscriber directory: each user's channel addresses.\n\n\b\nExample:\n  notify user set alice --email alice@example.com",
    no_args_is_help=True,
)


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


def _quiet_changes(current, quiet: str | None, tz: str | None) -> tuple[dict[str, str], str | None]:
    """The profile fields --quiet/--tz change, or the problem with them."""
    from tasks.quiet_hours import QuietHours, QuietHoursError

    changes = {}
    if quiet is not None:
        changes["quiet"] = "" if quiet.lower() in ("off", "") else quiet.strip()
    if tz is not None:
        changes["timezone"] = tz.strip()
    window = changes.get("quiet", current.quiet if current else "")
    if window:
        try:
            QuietHours.parse(window, changes.get("timezone", current.timezone if current else ""))
        except QuietHoursError as exc:
            return changes, str(exc)
    return changes, None


def user_set(
    user_id: str,
    *,
    mute: list[str] | None = None,
    unmute: list[str] | None = None,
    quiet: str | None = None,
    tz: str | None = None,
    **addresses: object,
) -> None:
    """Set a user's addresses, mutes and quiet hours; unnamed ones stay as they are.

    During quiet hours NORMAL events are held and sent as one digest per channel when they
    end; CRITICAL events always go through.

    \b
    Examples:
      notify user set alice --email alice@example.com --telegram-chat 4242
      notify user set alice --slack-webhook https://hooks.slack.com/services/T/B/X
      notify user set alice --push-token device-abc --mute EMAIL:STRATEGY_LOG
      notify user set alice --quiet 23:00-07:00 --tz Europe/Berlin
      notify user set alice --quiet off
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
    store = store_or_exit(settings_or_exit())
    current = store.directory.get(user_id)
    quiet_changes, problem = _quiet_changes(current, quiet, tz)
    if problem:
        typer.echo(f"notify: {problem}", err=True)
        raise typer.Exit(2)
    changes = _address_changes(current, addresses) | quiet_changes
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
        _keyword(
            "quiet",
            Annotated[
                str | None,
                typer.Option(help="Quiet hours HH:MM-HH:MM in --tz, e.g. 23:00-07:00; off: none."),
            ],
        ),
        _keyword(
            "tz",
            Annotated[
                str | None, typer.Option(help="The user's time zone (IANA), e.g. Europe/Berlin.")
            ],
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

    settings = settings_or_exit()
    try:
        typer.echo(create_link(settings, store_or_exit(settings), user_id))
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
    profile = store_or_exit(settings_or_exit()).directory.get(user_id)
    if profile is None:
        typer.echo(f"notify: no user {user_id!r} in the directory", err=True)
        raise typer.Exit(1)
    _print_profile(profile)


@user_app.command("verify")
def user_verify(user_id: str) -> None:
    """Send a test notification through each of the user's channels; record which got through.

    Each channel with an address gets one message, through its real provider; a channel whose
    provider accepted it is recorded as verified now (`notify user show` prints when). Exit 1 when
    any channel failed, 2 when the user has no address at all.

    \b
    Example:
      notify user verify alice
    """
    import time

    from channels import Kind
    from channels.verify import verify_channels
    from tasks.deps import get_deps

    settings = settings_or_exit()
    store = store_or_exit(settings)
    profile = store.directory.get(user_id)
    if profile is None:
        typer.echo(f"notify: no user {user_id!r} in the directory", err=True)
        raise typer.Exit(1)
    results = verify_channels(profile, get_deps())
    if not results:
        typer.echo(f"notify: {user_id} has no channel address to verify", err=True)
        raise typer.Exit(2)
    for name, outcome in results:
        good = outcome.kind == Kind.DELIVERED
        if good:
            store.directory.record_verified(user_id, name, time.time())
        typer.echo(f"{name:9} {'ok' if good else 'FAILED':7} {outcome.kind}: {outcome.detail}")
    failed = sum(outcome.kind != Kind.DELIVERED for _, outcome in results)
    typer.echo(f"{len(results) - failed} of {len(results)} channels verified")
    if failed:
        raise typer.Exit(1)


def _shown(name: str, value) -> str:
    if name == "verified":  # "CHANNEL@unix" -> "CHANNEL 2026-12-05 07:10 UTC"
        from datetime import UTC, datetime

        return ", ".join(
            f"{channel} {datetime.fromtimestamp(float(at), UTC):%Y-%m-%d %H:%M} UTC"
            for channel, _, at in (v.partition("@") for v in value)
        )
    return ", ".join(value) if isinstance(value, list) else value


def _print_profile(profile) -> None:
    for name, value in profile.as_dict().items():
        typer.echo(f"{name + ':':17}{_shown(name, value) or '-'}")
