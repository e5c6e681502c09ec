"""`notify keys …`: the ingress's CURVE pair and the registry of client keys it admits."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="CURVE keys: the ingress's, and the registry of client keys it admits.\n\n\b\n"
    "Examples:\n  notify keys server\n  notify keys add alice\n  notify keys list",
    no_args_is_help=True,
)


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
    store_or_exit(settings_or_exit()).keyring.add(public.decode(), role, chosen[0])
    typer.echo(f"{public.decode()} {secret.decode()}")


@keys_app.command("list")
def keys_list() -> None:
    """Print every registered client key: PUBLIC ROLE SUBJECT.

    \b
    Example:
      notify keys list
    """
    for public, grant in sorted(store_or_exit(settings_or_exit()).keyring.all().items()):
        typer.echo(f"{public} {grant.role} {grant.subject}")


@keys_app.command("revoke")
def keys_revoke(public: str) -> None:
    """Revoke a client key: refused at once, its connections dropped within seconds.

    A Z85 key may start with "-": put `--` before it.

    \b
    Example:
      notify keys revoke -- 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'
    """
    if not store_or_exit(settings_or_exit()).keyring.revoke(public):
        typer.echo(f"notify: no such key: {public}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {public}")
