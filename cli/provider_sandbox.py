"""`notify sandbox …`: the local provider sandbox and what it received."""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["sandbox_app"]

sandbox_app = typer.Typer(
    help="The local provider sandbox (default port 8590).\n\n\b\nExamples:\n"
    "  notify sandbox\n  notify sandbox list --provider discord"
)


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
