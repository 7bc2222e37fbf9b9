"""Archiving: finished work items leave the active table for ``work_items_archive``, whole.

An item moves when it is closed (completed or cancelled) or deleted, has not been updated
for ``older_than_days`` and nothing below it has to stay; so a parent never moves before its
children. One read
finds them all, deepest first; they then move in batches, each its own short transaction
(so other writers get in between) that checks its items again before moving them. A
large backlog runs on the bulk database (``bulk.py``): finding 100,000 movable items may
take longer than an interactive statement may.
Links (dependencies, deployments) stay as they are: they name items by id, wherever they live.
An item's notes move with it, in the same transaction, to ``work_item_notes_archive``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import bulk
from worktrack.db import Database
from worktrack.errors import ValidationError
from worktrack.models.admin import ArchiveResult
from worktrack.models.common import stamp
from worktrack.progress import Progress, silent
from worktrack.services.app import App
from worktrack.store import archive as store
from worktrack.store import idempotency
from worktrack.store import notes as notes_store

BATCH_SIZE = 500
DEFAULT_DAYS = 365
TOOL = "archive_work_items"


async def archive_work_items(
    app: App,
    *,
    older_than_days: int = DEFAULT_DAYS,
    dry_run: bool = False,
    request_id: str | None = None,
    progress: Progress = silent,
) -> ArchiveResult:
    if older_than_days < 0:
        raise ValidationError("older_than_days", "must be 0 or more")
    key = None if request_id is None else _Key(request_id, older_than_days, dry_run)
    async with bulk.database(app.settings, app.db) as db:
        run = _Run(app, db, key, progress)
        return _stamped(app, await run.archive(older_than_days, dry_run))


def _stamped(app: App, result: ArchiveResult) -> ArchiveResult:
    return stamp(result, app.db.source).model_copy(update={"queued": False})


@dataclass(frozen=True)
class _Run:
    """One call: the app, the database it archives on, its request_id, who watches."""

    app: App
    db: Database
    key: _Key | None
    progress: Progress

    async def archive(self, older_than_days: int, dry_run: bool) -> ArchiveResult:
        if self.key is not None and (earlier := await _earlier(self.db, self.key)):
            return earlier
        now = self.app.clock()
        cutoff = now - timedelta(days=older_than_days)
        await self.progress(0, None, "finding finished work items")
        found = await self.db.run(lambda conn: store.movable_ids(conn, cutoff))
        try:
            if dry_run:
                result = await self._report(found)
            else:
                result = await self._move_all(found, cutoff, now)
        except _TwinFirst:
            twin = await _earlier(self.db, self.key) if self.key is not None else None
            assert twin is not None, "a twin call kept its result"
            result = twin
        verb = "would archive" if dry_run else "archived"
        await self.progress(len(found), len(found), f"{verb} {result.archived_count} work items")
        return result

    async def _report(self, found: list[str]) -> ArchiveResult:
        result = ArchiveResult(archived_count=len(found), ids=found)
        if self.key is not None:
            await self.db.run(partial(_keep, self.app, self.key, result), write=True)
        return result

    async def _move_all(self, found: list[str], cutoff: datetime, now: datetime) -> ArchiveResult:
        """Batch after batch; the last one also keeps the result for the request_id."""
        batches = [found[n : n + BATCH_SIZE] for n in range(0, len(found), BATCH_SIZE)] or [[]]
        moved: list[str] = []
        done = 0
        for batch in batches[:-1]:
            moved += await self.db.run(partial(move_batch, batch, cutoff, now), write=True)
            done += len(batch)
            await self.progress(done, len(found), "archiving")

        async def last(conn: AsyncConnection) -> ArchiveResult:
            ids = moved + await move_batch(batches[-1], cutoff, now, conn)
            result = ArchiveResult(archived_count=len(ids), ids=ids)
            if self.key is not None:
                await _keep(self.app, self.key, result, conn)
            return result

        return await self.db.run(last, write=True)


# request_id, as on every write. A run spans several transactions, so its result is kept in
# the last one, with the last moves: a retry returns what the first call moved.
@dataclass(frozen=True)
class _Key:
    request_id: str
    older_than_days: int
    dry_run: bool

    @property
    def fingerprint(self) -> str:
        args = {"older_than_days": self.older_than_days, "dry_run": self.dry_run}
        return hashlib.sha256(json.dumps([TOOL, args]).encode()).hexdigest()


class _TwinFirst(Exception):
    """Another call with the same request_id kept its result first."""


async def _earlier(db: Database, key: _Key) -> ArchiveResult | None:
    found = await db.run(lambda conn: idempotency.find(conn, key.request_id))
    if found is None:
        return None
    if (found.tool, found.fingerprint) != (TOOL, key.fingerprint):
        raise ValidationError(
            "request_id", f"already used for a different call ({found.tool}); use a new request_id"
        )
    return ArchiveResult.model_validate(found.result)


async def _keep(app: App, key: _Key, result: ArchiveResult, conn: AsyncConnection) -> None:
    body = result.model_dump(mode="json")
    saved = await idempotency.save(conn, key.request_id, TOOL, key.fingerprint, body, app.clock())
    if not saved:
        raise _TwinFirst


async def move_batch(
    batch: list[str], cutoff: datetime, now: datetime, conn: AsyncConnection
) -> list[str]:
    """Move what of ``batch`` may still move: the list was read before this transaction,
    and an item changed since (or given an active child) stays."""
    if not batch:
        return []
    still = await store.movable_ids(conn, cutoff, among=batch)
    if still:
        await store.move(conn, still, now)
        await notes_store.archive(conn, still, now)  # notes go with their item, at once
    return still
