"""The ``worktrack`` command."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from worktrack.settings import Settings

if TYPE_CHECKING:
    from worktrack.models.reports import StatusReport

app = typer.Typer(
    help="worktrack: a shared project record for AI coding assistants (MCP).",
    no_args_is_help=True,
    add_completion=False,
)


def _settings() -> Settings:
    return Settings()


@app.command()
def serve() -> None:
    """Run the MCP server over stdio (what Claude Code, Claude Desktop and Cursor spawn)."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    from worktrack.clients import connection_help, executable
    from worktrack.migrations import SchemaError
    from worktrack.server import create_server

    settings = _settings()
    if sys.stdin.isatty():
        typer.echo(connection_help(executable(), settings.repo.resolve()), err=True)
    server = create_server(settings)
    # What start-up built (modules, tool schemas) lives as long as the process: moved out
    # of the collector's sight, full collections stop re-walking it on every big result
    # (the status report's p95 at 100,000 items: 213 ms -> 105 ms).
    gc.freeze()
    try:
        server.run(show_banner=False)
    except SchemaError as error:
        typer.echo(f"worktrack: {error.message}", err=True)
        raise typer.Exit(2) from None


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
    from worktrack.errors import ValidationError, WorktrackError

    settings = _settings()
    if output is not None:
        settings = settings.model_copy(update={"status_file": output})
    try:
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


@app.command()
def bench(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="a Postgres server to create (and drop) a scratch database on, e.g. "
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test; default: a temporary SQLite file",
        ),
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option(
            "--scale",
            help="multiply the realistic project (45 vendors, 1,200 work items, 50 "
            "deployments, 10 enhancements); 83 gives about 100,000 items",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="small data, few iterations: proves it works (CI)")
    ] = False,
    iterations: Annotated[
        int | None, typer.Option("--iterations", min=1, help="timed calls per scenario")
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", help="measure only this scenario (repeatable)"),
    ] = None,
    stdio: Annotated[
        bool, typer.Option("--stdio/--no-stdio", help="also spawn servers: stdio and cold start")
    ] = True,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="also write the results here as JSON")
    ] = None,
) -> None:
    """Measure latency, sizes and start-up on a seeded scratch database; print a table."""
    import json

    from worktrack.bench import report, runner, scenarios

    if database_url is not None and not database_url.startswith("postgresql"):
        raise typer.BadParameter("a postgresql+asyncpg:// server URL", param_hint="--database-url")
    try:
        scenarios.chosen(tuple(scenario or ()))
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--scenario") from None
    given_iterations = iterations or (10 if quick else 200)
    options = runner.Options(
        database_url=database_url,
        scale=scale if scale is not None else (0.05 if quick else 1.0),
        iterations=given_iterations,
        warmup=max(2, given_iterations // 10),
        scenarios=tuple(scenario or ()),
        stdio=stdio,
        cold_starts=1 if quick else 5,
    )
    results = asyncio.run(runner.run(options, lambda line: typer.echo(line, err=True)))
    typer.echo("\n".join(report.summary(results)))
    if json_path is not None:
        json_path.write_text(json.dumps(report.as_json(results), indent=2, default=str) + "\n")
        typer.echo(f"wrote {json_path}", err=True)
