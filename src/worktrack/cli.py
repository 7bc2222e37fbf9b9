"""The ``worktrack`` command."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from worktrack.settings import Settings

if TYPE_CHECKING:
    from worktrack.fallback.replica import Refreshed
    from worktrack.models.legacy import ImportResult
    from worktrack.models.reports import StatusReport
    from worktrack.services.app import App
    from worktrack.services.portability import Exported, Imported

T = TypeVar("T")

app = typer.Typer(
    help="worktrack: a shared project record for AI coding assistants (MCP).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: readable at any terminal width
    pretty_exceptions_show_locals=False,  # locals may hold a database password
)


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import version

        typer.echo(f"worktrack {version('worktrack')}")
        raise typer.Exit()


@app.callback()
def main(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """worktrack: a shared project record for AI coding assistants (MCP)."""


def _settings() -> Settings:
    """The settings; a bad one is one line per problem on stderr and exit code 2."""
    import pydantic

    try:
        return Settings()
    except pydantic.ValidationError as error:
        from worktrack.settings import problems

        for problem in problems(error):
            typer.echo(f"worktrack: {problem}", err=True)
        raise typer.Exit(2) from None


def _or_exit(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work``; a worktrack error is printed and exits (2: bad input, 1: any other)."""
    from worktrack.errors import ValidationError, WorktrackError

    try:
        return asyncio.run(work())
    except WorktrackError as error:
        typer.echo(f"worktrack: {error.message}", err=True)
        raise typer.Exit(2 if isinstance(error, ValidationError) else 1) from None


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
    # Start-up allocates hundreds of thousands of objects that live as long as the process
    # (modules, models, tool schemas): collecting while they are made only re-walks them
    # (0.2 s of a 1.7 s start). Collection resumes once they are frozen, below.
    gc.disable()
    try:
        _serve(http, host, port, no_auth)
    finally:
        gc.enable()


def _serve(http: bool, host: str, port: int, no_auth: bool) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    from worktrack import paths
    from worktrack.clients import connection_help, executable, server_env
    from worktrack.errors import ValidationError
    from worktrack.migrations import SchemaError
    from worktrack.server import create_server

    if not http and (no_auth or (host, port) != ("127.0.0.1", 8765)):
        typer.echo("worktrack: --host, --port and --no-auth go with --http", err=True)
        raise typer.Exit(2)
    settings = _settings()
    try:
        paths.prepare_home(settings)
        if http:
            _serve_http(settings, host, port, no_auth)
            return
        if sys.stdin.isatty():
            typer.echo(connection_help(executable(), server_env(settings).values), err=True)
        server = create_server(settings)
        # What start-up built (modules, tool schemas) lives as long as the process: moved
        # out of the collector's sight, full collections stop re-walking it on every big
        # result (the status report's p95 at 100,000 items: 213 ms -> 105 ms).
        gc.freeze()
        gc.enable()
        server.run(show_banner=False)
    except (SchemaError, ValidationError) as error:
        typer.echo(f"worktrack: {error.message}", err=True)
        raise typer.Exit(2) from None


def _serve_http(settings: Settings, host: str, port: int, no_auth: bool) -> None:
    from worktrack import http_server
    from worktrack.server import create_server

    try:
        warnings = http_server.check_bind(host, settings.http_token, no_auth)
    except http_server.RefusedToStart as refused:
        typer.echo(f"worktrack: {refused}", err=True)
        raise typer.Exit(2) from None
    for warning in warnings:
        typer.echo(f"worktrack: warning: {warning}", err=True)
    # Open the database once before binding, so a schema problem is a clear message and
    # not a failed server startup.
    asyncio.run(_using_app(settings, _nothing))
    from worktrack.web.app import AppSlot, board_app

    slot = AppSlot()
    token = None if no_auth else settings.http_token
    board = board_app(slot, base=http_server.BOARD_PATH, token=token)
    server = create_server(settings, opened=slot.set)
    gc.freeze()  # as for stdio: start-up's objects out of the collector's sight
    gc.enable()
    http_server.serve(server, settings, host, port, no_auth=no_auth, board=board)


async def _nothing(_app: App) -> None:
    return None


@app.command()
def board(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 picks one)")] = 8766,
    open_browser: Annotated[
        bool, typer.Option("--open", help="open the page in the default browser")
    ] = False,
) -> None:
    """Serve the read-only project board on http://127.0.0.1:PORT/ (loopback only)."""
    from worktrack import paths
    from worktrack.migrations import SchemaError
    from worktrack.web import serve as board_server

    settings = _settings()
    try:
        paths.prepare_home(settings)
        asyncio.run(_using_app(settings, _nothing))  # a schema problem is a clear message
    except SchemaError as error:
        typer.echo(f"worktrack: {error.message}", err=True)
        raise typer.Exit(2) from None
    board_server.serve(settings, port, open_browser=open_browser)


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
    from worktrack import clients, paths
    from worktrack.errors import WorktrackError

    settings = _settings()
    cursor_wide = client is McpClient.cursor and user_wide and config is None
    claude_wide = client is McpClient.claude_code and scope is ClaudeScope.user
    env = clients.server_env(
        settings,
        every_workspace=cursor_wide or claude_wide,
        workspace_repo=clients.WORKSPACE_FOLDER if cursor_wide else None,
    )
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
        home = paths.prepare_home(settings)
        kept = clients.write_entry(path, clients.server_entry(command, env.values), home)
    except (clients.InstallError, WorktrackError) as error:
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
    from worktrack.settings import problems

    try:
        settings = Settings()
    except pydantic.ValidationError as error:
        for problem in problems(error):
            typer.echo(f"fail  configuration  {problem}")
        typer.echo("      fix: correct the variable named above (in the environment)")
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
    from worktrack import migrations, paths
    from worktrack.errors import ValidationError

    settings = _settings()
    if not settings.uses_postgres:  # the embedded file lives in the state folder
        try:
            paths.prepare_home(settings)
        except ValidationError as error:
            typer.echo(f"worktrack: {error.message}", err=True)
            raise typer.Exit(2) from None
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

    settings = _settings()

    async def run() -> StatusReport:
        confined = settings
        if output is not None:
            target = paths.confine(output, paths.roots(settings), "--output")
            confined = settings.model_copy(update={"status_file": target})
        return await _report(confined, write_file=output is not None, since=since)

    result = _or_exit(run)
    if result.path is not None:
        typer.echo(f"wrote {result.path}", err=True)
    else:
        typer.echo(result.markdown, nl=False)


async def _report(settings: Settings, *, write_file: bool, since: str | None) -> StatusReport:
    from worktrack.services.reports import generate_status_report

    return await _using_app(
        settings,
        lambda app: generate_status_report(app, write_file=write_file, since=since, detail="full"),
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
    """Replay the writes queued during a Postgres outage now, then bring the local replica
    up to date; print what applied and what became a sync conflict. Exits 1 if writes
    remain queued (Postgres still unreachable)."""
    from worktrack.fallback.storage import ReplayReport
    from worktrack.services.sync import sync_now

    settings = _settings()
    if settings.uses_postgres:
        report = _or_exit(lambda: _using_app(settings, sync_now))
    else:  # the embedded database never queues writes: there is nothing to replay
        report = ReplayReport()
        typer.echo("worktrack: the embedded database has no write queue", err=True)
    counts = {
        "applied": len(report.applied),
        "conflicts": len(report.conflicts),
        "already_applied": len(report.already_applied),
        "remaining": report.remaining,
        "error": report.error,
        "busy": report.busy,
    }
    refreshed = report.replica
    if as_json:
        replica = None if refreshed is None else dataclasses.asdict(refreshed)
        typer.echo(json.dumps(counts | {"conflict_ops": report.conflicts, "replica": replica}))
    else:
        typer.echo(
            f"applied {counts['applied']}, conflicts {counts['conflicts']}, already applied "
            f"{counts['already_applied']}, remaining {report.remaining}"
            + (f" ({report.error})" if report.error else "")
            + (" (another process is replaying)" if report.busy else "")
        )
        if report.conflicts:
            typer.echo("see list_sync_conflicts / resolve_sync_conflict for the conflicts")
        if refreshed is not None:
            typer.echo(f"replica: {_refreshed(refreshed)}")
    if report.remaining:
        raise typer.Exit(1)


def _refreshed(done: Refreshed) -> str:
    if done.kind == "skipped":
        return f"not refreshed: {done.reason}"
    what = "copied whole" if done.kind == "copy" else "refreshed"
    return f"{what}, {done.rows} rows written in {done.seconds:.2f} s"


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
        state = {"up": "healthy", "slow": f"slow ({primary.error})"}.get(
            primary.state, f"unreachable ({primary.error})"
        )
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
    from worktrack.terminal import progress_bar

    async def run(opened: App) -> list[str]:
        with progress_bar("archive") as progress:
            done = await archive_work_items(
                opened, older_than_days=older_than_days, dry_run=dry_run, progress=progress
            )
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
    from worktrack.terminal import progress_bar

    settings = _settings()

    async def run(opened: App) -> ImportResult:
        importer = opened.acting_as(settings.actor or "import-legacy")
        with progress_bar("import-legacy") as progress:
            return await run_import(
                importer, path=path, prompts_dir=prompts, dry_run=dry_run, progress=progress
            )

    result = _or_exit(lambda: _using_app(settings, run))
    typer.echo(result.model_dump_json(indent=2) if as_json else describe(result))
    if not result.success:
        raise typer.Exit(1)


@app.command()
def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", help="write to this file (replaced when complete), not stdout"),
    ] = None,
) -> None:
    """Write every entity (archive, history, configuration included) as JSON Lines: a
    backup, or the way to another database (see `worktrack import`)."""
    from worktrack.portable.sink import OutputClosed, export_sink
    from worktrack.services.portability import export_data
    from worktrack.terminal import progress_bar

    async def run(opened: App) -> Exported:
        with export_sink(output) as write, progress_bar("export") as progress:
            return await export_data(opened, write, progress)

    try:
        done = _or_exit(lambda: _using_app(_settings(), run))
    except OutputClosed:  # the reader has what it wanted; say nothing more to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    if done.replica_note:
        typer.echo(f"worktrack: {done.replica_note}", err=True)
    where = "" if output is None else f" to {output}"
    typer.echo(f"exported {sum(done.counts.values())} rows from {done.source}{where}", err=True)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="a file `worktrack export` wrote")],
) -> None:
    """Load an export into the configured database, which must be migrated and empty: all
    of it in one transaction, or nothing."""
    from worktrack.services.portability import import_data
    from worktrack.terminal import progress_bar

    async def run(opened: App) -> Imported:
        with progress_bar("import") as progress:
            return await import_data(opened, file, progress)

    done = _or_exit(lambda: _using_app(_settings(), run))
    loaded = ", ".join(f"{count} {kind}" for kind, count in done.counts.items() if count)
    typer.echo(f"imported {sum(done.counts.values())} rows ({loaded or 'none'})")


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
    maintenance: Annotated[
        bool,
        typer.Option(
            "--maintenance/--no-maintenance",
            help="also time a large legacy import and archiving 10,000 old items",
        ),
    ] = True,
    moves: Annotated[
        bool,
        typer.Option(
            "--portability/--no-portability",
            help="also time exporting the seeded database and importing it elsewhere",
        ),
    ] = True,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="also write the results here as JSON")
    ] = None,
) -> None:
    """Measure latency, sizes and start-up on a seeded scratch database; print a table."""

    from worktrack.bench import report, runner, scenarios
    from worktrack.terminal import progress_bar

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
        maintenance=maintenance,
        portability=moves,
        rss_calls=100 if quick else 10_000,
    )
    try:
        with progress_bar("bench") as progress:
            results = asyncio.run(runner.run(options, progress))
    except runner.SetupFailed as failed:
        typer.echo(f"worktrack: bench: {failed}", err=True)
        raise typer.Exit(1) from None
    typer.echo("\n".join(report.summary(results)))
    if json_path is not None:
        json_path.write_text(json.dumps(report.as_json(results), indent=2, default=str) + "\n")
        typer.echo(f"wrote {json_path}", err=True)
