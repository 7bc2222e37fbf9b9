"""The ``worktrack`` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from worktrack.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from worktrack.models.reports import StatusReport
    from worktrack.services.app import App

app = typer.Typer(
    help="worktrack: a shared project record for AI coding assistants (MCP).",
    no_args_is_help=True,
    add_completion=False,
)


def _settings() -> Settings:
    return Settings()


@app.command()
def serve(
    http: Annotated[bool, typer.Option("--http", help="serve streamable HTTP, not stdio")] = False,
    host: Annotated[str, typer.Option(help="address to bind (with --http)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind (with --http; 0 picks one)")] = 8765,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="no bearer token (loopback addresses only)")
    ] = False,
) -> None:
    """Run the MCP server over stdio (what Claude Code, Claude Desktop and Cursor spawn),
    or over streamable HTTP with --http (a bearer token from WORKTRACK_HTTP_TOKEN)."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    from worktrack.clients import connection_help, executable
    from worktrack.migrations import SchemaError
    from worktrack.server import create_server

    settings = _settings()
    try:
        if http:
            _serve_http(settings, host, port, no_auth)
            return
        if sys.stdin.isatty():
            typer.echo(connection_help(executable(), settings.repo.resolve()), err=True)
        create_server(settings).run(show_banner=False)
    except SchemaError as error:
        typer.echo(f"worktrack: {error.message}", err=True)
        raise typer.Exit(2) from None


def _serve_http(settings: Settings, host: str, port: int, no_auth: bool) -> None:
    from worktrack import http_server
    from worktrack.server import create_server, open_app

    try:
        warnings = http_server.check_bind(host, settings.http_token, no_auth)
    except http_server.RefusedToStart as refused:
        typer.echo(f"worktrack: {refused}", err=True)
        raise typer.Exit(2) from None
    for warning in warnings:
        typer.echo(f"worktrack: warning: {warning}", err=True)
    # Open the database once before binding, so a schema problem is a clear message and
    # not a failed server startup.
    asyncio.run(_dispose(open_app(settings)))
    http_server.serve(create_server(settings), settings, host, port, no_auth=no_auth)


async def _dispose(opening: Awaitable[App]) -> None:
    app = await opening
    await app.db.dispose()


@app.command()
def migrate() -> None:
    """Upgrade the configured database to the current schema (alembic upgrade head)."""
    from worktrack import migrations

    settings = _settings()
    asyncio.run(migrations.upgrade(settings.effective_database_url))
    typer.echo(f"schema at revision {migrations.head_revision()}", err=True)


@app.command()
def report(
    output: Annotated[
        Path | None, typer.Option("--output", help="write the report here (atomically)")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="ISO-8601 time with offset: add what changed since then"),
    ] = None,
) -> None:
    """Print the markdown status report, or write it atomically to --output."""
    from worktrack import paths
    from worktrack.errors import ValidationError, WorktrackError

    settings = _settings()
    try:
        if output is not None:
            target = paths.confine(output, paths.roots(settings), "--output")
            settings = settings.model_copy(update={"status_file": target})
        result = asyncio.run(_report(settings, write_file=output is not None, since=since))
    except WorktrackError as error:
        typer.echo(f"worktrack: {error.message}", err=True)
        raise typer.Exit(2 if isinstance(error, ValidationError) else 1) from None
    if result.path is not None:
        typer.echo(f"wrote {result.path}", err=True)
    else:
        typer.echo(result.markdown, nl=False)


async def _report(settings: Settings, *, write_file: bool, since: str | None) -> StatusReport:
    from worktrack.server import open_app
    from worktrack.services.reports import generate_status_report

    app = await open_app(settings)
    try:
        return await generate_status_report(app, write_file=write_file, since=since)
    finally:
        await app.db.dispose()
