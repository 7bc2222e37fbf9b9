"""The ``worktrack`` command."""

from __future__ import annotations

import asyncio
import logging
import shlex
import shutil
import subprocess
import sys
from enum import StrEnum
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
    from worktrack.clients import connection_help, executable, server_env
    from worktrack.migrations import SchemaError
    from worktrack.server import create_server

    if not http and (no_auth or (host, port) != ("127.0.0.1", 8765)):
        typer.echo("worktrack: --host, --port and --no-auth go with --http", err=True)
        raise typer.Exit(2)
    settings = _settings()
    try:
        if http:
            _serve_http(settings, host, port, no_auth)
            return
        if sys.stdin.isatty():
            typer.echo(connection_help(executable(), server_env(settings).values), err=True)
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


class McpClient(StrEnum):
    claude_code = "claude-code"
    claude_desktop = "claude-desktop"
    cursor = "cursor"


class ClaudeScope(StrEnum):
    local = "local"
    project = "project"
    user = "user"


CLIENT_NAMES = {
    "claude-code": "Claude Code",
    "claude-desktop": "Claude Desktop",
    "cursor": "Cursor",
}


@app.command()
def install(
    client: Annotated[McpClient, typer.Argument(help="the MCP client")],
    print_only: Annotated[
        bool, typer.Option("--print", help="print the configuration instead of writing it")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(help="the configuration file to merge into (default: the client's own)"),
    ] = None,
    user_wide: Annotated[
        bool,
        typer.Option("--global", help="cursor: ~/.cursor/mcp.json, not <repo>/.cursor/mcp.json"),
    ] = False,
    scope: Annotated[ClaudeScope, typer.Option(help="claude-code: where claude keeps it")] = (
        ClaudeScope.local
    ),
) -> None:
    """Add worktrack to Claude Code, Claude Desktop or Cursor (or print what to add)."""
    from worktrack import clients
    from worktrack.errors import UnavailableError

    settings = _settings()
    env = clients.server_env(settings)
    for note in env.notes:
        typer.echo(f"worktrack: note: {note}", err=True)
    command = clients.executable()
    if client is McpClient.claude_code:
        argv = clients.claude_code_argv(command, env.values, scope.value)
        _install_claude_code(argv, print_only)
        return
    if config is not None:
        path = config
    elif client is McpClient.claude_desktop:
        path = clients.claude_desktop_config()
    else:
        path = clients.cursor_config(settings.repo.resolve(), user_wide=user_wide)
    if print_only:
        typer.echo(clients.json_config(command, env.values))
        typer.echo(f"worktrack: merge this into {path}", err=True)
        return
    try:
        kept = clients.write_entry(path, clients.server_entry(command, env.values))
    except (clients.InstallError, UnavailableError) as error:
        typer.echo(f"worktrack: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"worktrack: added the worktrack server to {path} ({kept} other servers kept); "
        f"restart {CLIENT_NAMES[client.value]} to load it",
        err=True,
    )


def _install_claude_code(argv: list[str], print_only: bool) -> None:
    found = shutil.which("claude")
    if print_only or found is None:
        if found is None and not print_only:
            typer.echo("worktrack: `claude` is not on PATH; run this to add worktrack:", err=True)
        typer.echo(shlex.join(argv))
        return
    done = subprocess.run([found, *argv[1:]], check=False)
    raise typer.Exit(done.returncode)


@app.command()
def doctor() -> None:
    """Check the configuration, database, schema, repository and status file; say what to
    fix. Exits 1 when something would stop worktrack from working."""
    import pydantic

    from worktrack import doctor as checks

    try:
        settings = _settings()
    except pydantic.ValidationError as error:
        for problem in error.errors(include_url=False):
            variable = f"WORKTRACK_{str(problem['loc'][0]).upper()}" if problem["loc"] else ""
            typer.echo(f"fail  configuration  {variable}: {problem['msg']}")
        typer.echo("      fix: correct the variable named above (environment or .env)")
        raise typer.Exit(1) from None
    results = asyncio.run(checks.run(settings))
    for check in results:
        typer.echo(f"{check.verdict:<5} {check.name:<13} {check.detail}")
        if check.fix:
            typer.echo(f"{'':<5} {'':<13} fix: {check.fix}")
    if any(check.verdict == "fail" for check in results):
        raise typer.Exit(1)


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
