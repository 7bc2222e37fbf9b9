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
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar, cast
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import gitrepo
from worktrack.errors import ValidationError, WorktrackError
from worktrack.legacy import plan as planning
from worktrack.legacy.plan import Plan
from worktrack.legacy.prompts import PromptFile, read_prompts
from worktrack.legacy.reconcile import Shipped, Stored, Written, defaults_applied, reconcile
from worktrack.legacy.reconcile import unwritten as nothing_written
from worktrack.models.configuration import Configuration
from worktrack.models.legacy import ImportResult, Reconciliation, SkippedFile
from worktrack.models.work_items import WorkItem
from worktrack.report import files
from worktrack.report.parse import parse
from worktrack.services import deployments, enhancements, vendors, work_items
from worktrack.services.app import App
from worktrack.store import configuration as configuration_store
from worktrack.store import deployments as deployment_store
from worktrack.store import enhancements as enhancement_store
from worktrack.store import history
from worktrack.store import legacy_imports as ledger
from worktrack.store import vendors as vendor_store
from worktrack.store import work_items as item_store

T = TypeVar("T")
_READ_BACK_CHUNK = 5000  # ids per IN (...): well below either database's bound-parameter limit


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


class _Failed(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _body(service: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """The body of a ``@writes`` service (what its decorator wraps), to run on the
    connection the import holds: each entity meets the service's rules, in one transaction."""
    return cast("Callable[..., Awaitable[T]]", inspect.unwrap(service))


async def import_legacy(
    app: App, *, path: Path, prompts_dir: Path | None = None, dry_run: bool = False
) -> ImportResult:
    source = await asyncio.to_thread(_read_source, path)
    prompts, unreadable = await _prompts(prompts_dir)
    budget = await app.db.run(_default_budget)
    plan = planning.build(parse(source.text), prompts, budget)
    plan.skipped = sorted([*unreadable, *plan.skipped], key=lambda skipped: skipped.file)
    commits = await _full_hashes(app, plan)
    if plan.errors:
        return _result(plan, source, dry_run, nothing_written(plan), 0.0, rollback=False)
    try:
        return await app.db.run(partial(_import, app, plan, source, commits, dry_run), write=True)
    except _Stop as stop:
        return stop.result


def _read_source(path: Path) -> _Source:
    if not path.is_file():
        raise ValidationError("path", f"{path} is not a file")
    raw = path.read_bytes()
    text = files.read(path) or ""
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
        await _write(app, conn, plan, commits, written)
    except _Failed as failed:
        plan.errors.append(failed.problem)
        raise _Stop(
            _result(plan, source, dry_run, nothing_written(plan), 0.0, rollback=True)
        ) from None
    outcome = reconcile(plan, written, await _read_back(conn, written))
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


async def _step(where: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except WorktrackError as error:
        raise _Failed(f"{where}: {error.message}") from None


async def _write(
    app: App,
    conn: AsyncConnection,
    plan: Plan,
    commits: dict[str, str | None],
    written: Written,
) -> None:
    """Create everything the plan holds, parents first, recording the ids in ``written``."""
    create_vendor = _body(vendors.create_vendor)
    for where, vendor in plan.vendors:
        made_vendor = await _step(where, create_vendor(app, conn, **vendor.model_dump()))
        written.vendors.append(made_vendor.id)
    await _write_items(app, conn, plan, written)
    await _write_deployments(app, conn, plan, commits, written)
    create_enhancement = _body(enhancements.create_enhancement)
    for where, enhancement in plan.enhancements:
        wish = await _step(where, create_enhancement(app, conn, **enhancement.model_dump()))
        written.enhancements.append(wish.id)


async def _write_items(app: App, conn: AsyncConnection, plan: Plan, written: Written) -> None:
    """Every work item through the rules ``create_work_item`` applies, stored in bulk: one
    statement for the rows and one for their history (the plan puts parents first). Each
    keeps the creation time the file gives it."""
    now = app.clock()
    made: list[work_items.NewItem] = []
    for item in plan.items:
        parent = None if item.parent is None else made[item.parent].row["path"]
        try:
            new = work_items.new_item(
                item_id=str(uuid4()),
                parent_path=parent,
                now=item.created_at or now,
                actor=app.actor,
                **item.entry.model_dump(),
            )
        except WorktrackError as error:
            raise _Failed(f"{item.where}: {error.message}") from None
        made.append(new)
    await item_store.insert_many(conn, [new.row for new in made])
    await history.append(conn, [new.log for new in made])
    written.items += [new.row["id"] for new in made]


async def _write_deployments(
    app: App,
    conn: AsyncConnection,
    plan: Plan,
    commits: dict[str, str | None],
    written: Written,
) -> None:
    by_name = {
        vendor_store.name_key(vendor.name): vendor_id
        for (_, vendor), vendor_id in zip(plan.vendors, written.vendors, strict=True)
    }
    record = _body(deployments.record_deployment)
    for deployment in plan.deployments:
        vendor_ids = [
            await _vendor_id(conn, by_name, name, deployment.where)
            for name in deployment.vendor_names
        ]
        given = deployment.commit
        commit = given.text if given.full else commits[given.text]
        call = record(
            app,
            conn,
            metadata=deployment.metadata,
            deployed_at=deployment.deployed_at,
            commit_hash=commit,
            affected_vendor_ids=vendor_ids,
        )
        shipped = await _step(deployment.where, call)
        written.deployments.append(Shipped(shipped.id, shipped.commit_hash, vendor_ids))


async def _vendor_id(conn: AsyncConnection, imported: dict[str, str], name: str, where: str) -> str:
    """A vendor the file lists, else one already stored, by name in any case."""
    if found := imported.get(vendor_store.name_key(name)):
        return found
    stored = await vendor_store.fetch_by_name(conn, name)
    if stored is None:
        raise _Failed(f"{where}: no vendor named {name!r}, in the file or the database")
    return stored.id


async def _read_back(conn: AsyncConnection, written: Written) -> Stored:
    wanted = set(written.vendors)
    stored_vendors = {v.id: v for v in await vendor_store.list_all(conn) if v.id in wanted}
    items: dict[str, WorkItem] = {}
    for start in range(0, len(written.items), _READ_BACK_CHUNK):
        chunk = written.items[start : start + _READ_BACK_CHUNK]
        items |= {item.id: item for item in await item_store.fetch_many(conn, chunk)}
    shipped_ids = [deployment.id for deployment in written.deployments]
    shipped = {d.id: d for d in await deployment_store.fetch_many(conn, shipped_ids)}
    wishes = {e.id: e for e in await enhancement_store.fetch_many(conn, written.enhancements)}
    return Stored(stored_vendors, items, shipped, wishes)


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
