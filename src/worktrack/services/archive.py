"""Archiving: finished work items leave the active table for ``work_items_archive``, whole.

An item moves when it is completed or deleted, has not been updated for ``older_than_days``
and nothing below it has to stay; so a parent never moves before its children. One read
finds them all, deepest first; they then move in batches, each its own short transaction
(so other writers get in between) that checks its items again before moving them.
Links (dependencies, deployments) stay as they are: they name items by id, wherever they live.

The server also runs this by itself (``daily``): every ``archive_check_seconds`` it asks the
database whether the day's run is due, and one process on that database gets to run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import ValidationError
from worktrack.models.admin import ArchiveResult
from worktrack.models.common import stamp
from worktrack.services.app import App
from worktrack.store import archive as store
from worktrack.store import maintenance

log = logging.getLogger(__name__)
BATCH_SIZE = 500
DEFAULT_DAYS = 365
TASK = "archive_work_items"
EVERY = timedelta(days=1)
FIRST_CHECK_SECONDS = 60.0  # after start-up: short-lived servers never archive


async def archive_work_items(
    app: App, *, older_than_days: int = DEFAULT_DAYS, dry_run: bool = False
) -> ArchiveResult:
    if older_than_days < 0:
        raise ValidationError("older_than_days", "must be 0 or more")
    now = app.clock()
    cutoff = now - timedelta(days=older_than_days)
    found = await app.db.run(lambda conn: store.movable_ids(conn, cutoff))
    if dry_run:
        return _result(app, found)
    moved: list[str] = []
    for start in range(0, len(found), BATCH_SIZE):
        batch = found[start : start + BATCH_SIZE]
        moved += await app.db.run(partial(move_batch, batch, cutoff, now), write=True)
    return _result(app, moved)


def _result(app: App, ids: list[str]) -> ArchiveResult:
    result = ArchiveResult(archived_count=len(ids), ids=ids)
    return stamp(result, app.db.source).model_copy(update={"queued": False})


async def move_batch(
    batch: list[str], cutoff: datetime, now: datetime, conn: AsyncConnection
) -> list[str]:
    """Move what of ``batch`` may still move: the list was read before this transaction,
    and an item changed since (or given an active child) stays."""
    still = await store.movable_ids(conn, cutoff, among=batch)
    if still:
        await store.move(conn, still, now)
    return still


async def run_if_due(app: App) -> ArchiveResult | None:
    """Archive with the defaults unless some process on this database did in the last day."""
    now = app.clock()
    if not await app.db.run(lambda conn: maintenance.claim(conn, TASK, now, EVERY), write=True):
        return None
    result = await archive_work_items(app)
    summary = {"archived_count": result.archived_count}
    await app.db.run(lambda conn: maintenance.record_result(conn, TASK, summary), write=True)
    return result


async def _keep_archiving(app: App, every: float) -> None:
    await asyncio.sleep(min(every, FIRST_CHECK_SECONDS))
    while True:
        try:
            done = await run_if_due(app)
            if done is not None:
                log.info("archived %d work items", done.archived_count)
        except Exception:  # a background task: log it and try again at the next check
            log.exception("the daily archive run failed")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def daily(app: App) -> AsyncIterator[None]:
    """While the server runs, archive once a day (``archive_check_seconds`` 0: never)."""
    every = app.settings.archive_check_seconds
    if every <= 0:
        yield
        return
    task = asyncio.create_task(_keep_archiving(app, every), name="worktrack-daily-archive")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
