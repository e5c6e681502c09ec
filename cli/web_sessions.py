"""`notify sessions …`: the WebSocket session server and its tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import settings_or_exit, store_or_exit

__all__ = ["sessions_app"]

sessions_app = typer.Typer(
    help="The WebSocket session server for browsers (default port 8570).\n\n\b\nExamples:\n"
    "  notify sessions\n  notify sessions token alice"
)


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

        raise typer.Exit(sessions.run(settings_or_exit(), host, port))


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
    store_or_exit(settings_or_exit()).revoke_sessions(user_id)
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

    settings = settings_or_exit()
    try:
        token = sessions.issue_token(settings, store_or_exit(settings), user_id, ttl)
    except ValueError as exc:
        typer.echo(f"notify: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(token)
    typer.echo(sessions.page_url(token, url))
