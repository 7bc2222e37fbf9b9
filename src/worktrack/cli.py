"""The ``worktrack`` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from worktrack.settings import Settings

if TYPE_CHECKING:
    from worktrack.models.legacy import ImportResult
    from worktrack.models.reports import StatusReport

T = TypeVar("T")
app = typer.Typer(
    help="worktrack: a shared project record for AI coding assistants (MCP).",
    no_args_is_help=True,
    add_completion=False,
)


def _settings() -> Settings:
    return Settings()


def _or_exit(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work``; a worktrack error is printed and exits (2: bad input, 1: any other)."""
    from worktrack.errors import ValidationError, WorktrackError

    try:
        return asyncio.run(work())
    except WorktrackError as error:
        typer.echo(f"worktrack: {error.message}", err=True)
        raise typer.Exit(2 if isinstance(error, ValidationError) else 1) from None


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
    try:
        create_server(settings).run(show_banner=False)
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
def archive(
    older_than_days: Annotated[
        int, typer.Option("--older-than-days", min=0, help="not updated for this many days")
    ] = 365,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only list what would move; move nothing")
    ] = False,
) -> None:
    """Move completed or deleted work items untouched for N days to the archive."""
    from worktrack.services.archive import archive_work_items

    async def run() -> list[str]:
        from worktrack.server import open_app

        opened = await open_app(_settings())
        try:
            done = await archive_work_items(
                opened, older_than_days=older_than_days, dry_run=dry_run
            )
        finally:
            await opened.db.dispose()
        return done.ids

    ids = _or_exit(run)
    for item_id in ids:
        typer.echo(item_id)
    verb = "would move" if dry_run else "moved"
    plural = "" if len(ids) == 1 else "s"
    typer.echo(f"{verb} {len(ids)} work item{plural} to the archive", err=True)


@app.command("import-legacy")
def import_legacy(
    path: Annotated[Path, typer.Argument(help="the legacy status file (.project_status.md)")],
    prompts: Annotated[
        Path | None, typer.Option("--prompts", help="a directory of session prompt files (*.md)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="import and reconcile, then roll everything back")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Import a legacy status file and session prompts in one transaction, reconciled."""
    from worktrack.legacy.summary import describe
    from worktrack.services.legacy_import import import_legacy as run_import

    settings = _settings()

    async def run() -> ImportResult:
        from worktrack.server import open_app

        opened = await open_app(settings)
        try:
            importer = opened.acting_as(settings.actor or "import-legacy")
            return await run_import(importer, path=path, prompts_dir=prompts, dry_run=dry_run)
        finally:
            await opened.db.dispose()

    result = _or_exit(run)
    typer.echo(result.model_dump_json(indent=2) if as_json else describe(result))
    if not result.success:
        raise typer.Exit(1)
