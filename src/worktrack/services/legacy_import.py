"""``worktrack import-legacy``: a legacy status file and session prompt files, in one
transaction, through the rules every tool call meets, then reconciled before it commits.

The files are read first and only read: parsed (``report.parse``), checked and given
defaults (``legacy.plan``), abbreviated commits resolved in the repository. Then one write
transaction claims the file's content in ``legacy_imports`` (a second import of the same
bytes is refused); creates vendors, deployments and enhancements through the bodies of
their services, and work items through ``work_items.new_item`` (the rules of
``create_work_item``) stored in bulk; reads it all back and reconciles. Any failure, or a
dry run, rolls the whole transaction back.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import bulk, gitrepo
from worktrack.errors import ValidationError
from worktrack.legacy import plan as planning
from worktrack.legacy.plan import Plan
from worktrack.legacy.prompts import PromptFile, read_prompts
from worktrack.legacy.reconcile import Written, defaults_applied, reconcile
from worktrack.legacy.reconcile import unwritten as nothing_written
from worktrack.models.configuration import Configuration
from worktrack.models.legacy import ImportResult, Reconciliation, SkippedFile
from worktrack.progress import Progress, silent
from worktrack.report.parse import parse
from worktrack.services import legacy_writes
from worktrack.services.app import App
from worktrack.store import configuration as configuration_store
from worktrack.store import legacy_imports as ledger


@dataclass(frozen=True)
class _Source:
    path: Path
    text: str
    sha256: str


class _Stop(Exception):
    """Ends the transaction, rolling it back, with the result to report."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__(result.errors)
        self.result = result


async def import_legacy(
    app: App,
    *,
    path: Path,
    prompts_dir: Path | None = None,
    dry_run: bool = False,
    progress: Progress = silent,
) -> ImportResult:
    source = await asyncio.to_thread(_read_source, path)
    prompts, unreadable = await _prompts(prompts_dir)
    budget = await app.db.run(_default_budget)
    plan = planning.build(parse(source.text), prompts, budget)
    plan.skipped = sorted([*unreadable, *plan.skipped], key=lambda skipped: skipped.file)
    commits = await _full_hashes(app, plan)
    if plan.errors:
        return _result(plan, source, dry_run, nothing_written(plan), 0.0, rollback=False)
    write = partial(_import, app, plan, source, commits, dry_run, progress)
    try:
        # A big project's one transaction runs longer than an interactive call may.
        async with bulk.database(app.settings, app.db) as db:
            return await db.run(write, write=True)
    except _Stop as stop:
        return stop.result


def _read_source(path: Path) -> _Source:
    if not path.is_file():
        raise ValidationError("path", f"{path} is not a file")
    raw = path.read_bytes()
    # As the status file is read everywhere: bytes that are not UTF-8 become U+FFFD, which
    # the parser reports by line.
    text = raw.decode("utf-8", errors="replace")
    return _Source(path, text, hashlib.sha256(raw).hexdigest())


async def _prompts(directory: Path | None) -> tuple[list[PromptFile], list[SkippedFile]]:
    if directory is None:
        return [], []
    if not directory.is_dir():
        raise ValidationError("prompts", f"{directory} is not a directory")
    return await asyncio.to_thread(read_prompts, directory)


async def _default_budget(conn: AsyncConnection) -> int:
    stored = await configuration_store.fetch(conn)
    return (stored or Configuration()).default_token_budget


async def _full_hashes(app: App, plan: Plan) -> dict[str, str | None]:
    """Abbreviated commits resolved in WORKTRACK_REPO; each one that is not becomes an error."""
    short = sorted({d.commit.text for d in plan.deployments if not d.commit.full})
    found = await gitrepo.full_hashes(app.settings.repo, short) if short else {}
    for deployment in plan.deployments:
        commit = deployment.commit
        if not commit.full and found.get(commit.text) is None:
            plan.errors.append(
                f"{deployment.where}: commit {commit.text!r} names no single commit "
                f"in WORKTRACK_REPO ({app.settings.repo})"
            )
    return found


async def _import(
    app: App,
    plan: Plan,
    source: _Source,
    commits: dict[str, str | None],
    dry_run: bool,
    progress: Progress,
    conn: AsyncConnection,
) -> ImportResult:
    if not await ledger.claim(conn, source.sha256, str(source.path), app.clock(), app.actor):
        at = await ledger.imported_at(conn, source.sha256)
        plan.errors.append(
            f"this file was imported before ({at.isoformat() if at else 'earlier'}, "
            f"sha256 {source.sha256}); nothing was imported again"
        )
        raise _Stop(_result(plan, source, dry_run, nothing_written(plan), 0.0, rollback=False))
    written = Written()
    try:
        await legacy_writes.write_all(app, conn, plan, commits, written, progress)
    except legacy_writes.ImportFailed as failed:
        plan.errors.append(failed.problem)
        raise _Stop(
            _result(plan, source, dry_run, nothing_written(plan), 0.0, rollback=True)
        ) from None
    outcome = reconcile(plan, written, await legacy_writes.read_back(conn, written))
    if not outcome.matches:
        plan.errors.append("reconciliation failed: the import was rolled back")
    result = _result(
        plan,
        source,
        dry_run,
        outcome.reconciliation,
        outcome.percentage,
        rollback=not outcome.matches,
    )
    if dry_run or not outcome.matches:
        raise _Stop(result)
    await ledger.record_result(conn, source.sha256, result.model_dump(mode="json"))
    return result


def _result(
    plan: Plan,
    source: _Source,
    dry_run: bool,
    reconciliation: Reconciliation,
    percentage: float,
    *,
    rollback: bool,
) -> ImportResult:
    return ImportResult(
        success=not plan.errors,
        dry_run=dry_run,
        data_preservation_percentage=percentage,
        reconciliation=reconciliation,
        skipped=plan.skipped,
        defaults_applied=defaults_applied(plan.defaults),
        rollback_executed=rollback,
        errors=plan.errors,
        source_sha256=source.sha256,
    )
