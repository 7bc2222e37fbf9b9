"""The archive runs by itself: while a server runs, every ``archive_check_seconds`` it asks
the database whether the day's run is due; of all the processes on that database, one gets
to run it (``maintenance_runs`` records when it last did)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.admin import ArchiveResult
from worktrack.services.app import App
from worktrack.services.archive import archive_work_items
from worktrack.store import idempotency, maintenance, sync

log = logging.getLogger(__name__)
TASK = "archive_work_items"
EVERY = timedelta(days=1)
# A client retries a request_id within minutes; a day is generous. A write queued during an
# outage replays when the primary is back, which is never expected to take 90 days.
KEEP_RETRY_KEYS = timedelta(days=1)
KEEP_APPLIED_OPS = timedelta(days=90)
FIRST_CHECK_SECONDS = 60.0  # after start-up: short-lived servers never archive


async def run_if_due(app: App) -> ArchiveResult | None:
    """Archive with the defaults, and forget retry keys and replayed operation ids past
    their use, unless some process on this database did in the last day."""
    now = app.clock()
    if not await app.db.run(lambda conn: maintenance.claim(conn, TASK, now, EVERY), write=True):
        return None
    result = await archive_work_items(app)
    pruned = await app.db.run(lambda conn: _prune(conn, now), write=True)
    summary = {"archived_count": result.archived_count, **pruned}
    await app.db.run(lambda conn: maintenance.record_result(conn, TASK, summary), write=True)
    return result


async def _prune(conn: AsyncConnection, now: datetime) -> dict[str, int]:
    return {
        "idempotency_keys_pruned": await idempotency.prune(conn, now - KEEP_RETRY_KEYS),
        "applied_ops_pruned": await sync.prune_applied(conn, now - KEEP_APPLIED_OPS),
    }


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
