"""The ``worktrack`` command."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from worktrack.settings import Settings

if TYPE_CHECKING:
    from worktrack.models.legacy import ImportResult
    from worktrack.models.reports import StatusReport
    from worktrack.services.app import App

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
    settings = _settings()
    if output is not None:
        settings = settings.model_copy(update={"status_file": output})
    result = _or_exit(lambda: _report(settings, write_file=output is not None, since=since))
    if result.path is not None:
        typer.echo(f"wrote {result.path}", err=True)
    else:
        typer.echo(result.markdown, nl=False)


async def _report(settings: Settings, *, write_file: bool, since: str | None) -> StatusReport:
    from worktrack.services.reports import generate_status_report

    return await _using_app(
        settings, lambda app: generate_status_report(app, write_file=write_file, since=since)
    )


async def _using_app(settings: Settings, work: Callable[[App], Awaitable[T]]) -> T:
    from worktrack.startup import close_app, open_app

    opened = await open_app(settings)
    try:
        return await work(opened)
    finally:
        await close_app(opened)


JsonFlag = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


@app.command()
def sync(as_json: JsonFlag = False) -> None:
    """Replay the writes queued during a Postgres outage now; print what applied and what
    became a sync conflict. Exits 1 if writes remain queued (Postgres still unreachable)."""
    from worktrack.services.sync import sync_now

    report = _or_exit(lambda: _using_app(_settings(), sync_now))
    counts = {
        "applied": len(report.applied),
        "conflicts": len(report.conflicts),
        "already_applied": len(report.already_applied),
        "remaining": report.remaining,
        "error": report.error,
        "busy": report.busy,
    }
    if as_json:
        typer.echo(json.dumps(counts | {"conflict_ops": report.conflicts}))
    else:
        typer.echo(
            f"applied {counts['applied']}, conflicts {counts['conflicts']}, already applied "
            f"{counts['already_applied']}, remaining {report.remaining}"
            + (f" ({report.error})" if report.error else "")
            + (" (another process is replaying)" if report.busy else "")
        )
        if report.conflicts:
            typer.echo("see list_sync_conflicts / resolve_sync_conflict for the conflicts")
    if report.remaining:
        raise typer.Exit(1)


@app.command()
def health(as_json: JsonFlag = False) -> None:
    """Print which storage layer serves, the primary's state, cache, queued writes, sync
    conflicts and the schema revision. Exits 1 when the primary is unreachable."""
    from worktrack.services.sync import get_system_health

    found = _or_exit(lambda: _using_app(_settings(), get_system_health))
    if as_json:
        typer.echo(found.model_dump_json())
    else:
        primary = found.primary
        state = "healthy" if primary.healthy else f"unreachable ({primary.error})"
        latency = f", {primary.latency_ms:.1f} ms" if primary.latency_ms is not None else ""
        cache_age = found.cache.oldest_age_minutes
        conflicts = "unknown" if found.sync_conflicts is None else found.sync_conflicts
        lines = [
            f"serving layer:   {found.serving_layer or 'none'}",
            f"primary:         {primary.kind}, {state}{latency}",
            f"schema revision: {found.schema_revision or 'unknown'}",
            f"cache:           {found.cache.entries} entries"
            + (f", oldest {cache_age:.0f} min" if cache_age is not None else ""),
            f"queued writes:   {found.queued_writes}",
            f"sync conflicts:  {conflicts}",
            f"status file:     {found.status_file.path}"
            + ("" if found.status_file.exists else " (missing)"),
        ]
        typer.echo("\n".join(lines))
    if not found.primary.healthy:
        raise typer.Exit(1)


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

    async def run(opened: App) -> list[str]:
        done = await archive_work_items(opened, older_than_days=older_than_days, dry_run=dry_run)
        return done.ids

    ids = _or_exit(lambda: _using_app(_settings(), run))
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
    as_json: JsonFlag = False,
) -> None:
    """Import a legacy status file and session prompts in one transaction, reconciled."""
    from worktrack.legacy.summary import describe
    from worktrack.services.legacy_import import import_legacy as run_import

    settings = _settings()

    async def run(opened: App) -> ImportResult:
        importer = opened.acting_as(settings.actor or "import-legacy")
        return await run_import(importer, path=path, prompts_dir=prompts, dry_run=dry_run)

    result = _or_exit(lambda: _using_app(settings, run))
    typer.echo(result.model_dump_json(indent=2) if as_json else describe(result))
    if not result.success:
        raise typer.Exit(1)
