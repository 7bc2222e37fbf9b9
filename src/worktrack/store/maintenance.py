"""SQL for ``maintenance_runs``: when each background task last ran, shared by every server
process on the database, so a task due once a day runs once a day however many serve."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.store.sql import insert_if_absent
from worktrack.tables import maintenance_runs

_m = maintenance_runs.c


async def claim(conn: AsyncConnection, task: str, now: datetime, every: timedelta) -> bool:
    """Record that ``task`` runs now, if its last run is at least ``every`` ago (or it never
    ran); True when this call may run it. Of concurrent claims exactly one wins: the
    conditional UPDATE re-checks the row another claimer just changed."""
    due = (
        update(maintenance_runs)
        .where(_m.task == task, _m.last_run_at <= now - every)
        .values(last_run_at=now, last_result=None)
    )
    if (await conn.execute(due)).rowcount == 1:
        return True
    return await insert_if_absent(conn, maintenance_runs, {"task": task, "last_run_at": now})


async def record_result(conn: AsyncConnection, task: str, result: dict[str, Any]) -> None:
    await conn.execute(update(maintenance_runs).where(_m.task == task).values(last_result=result))
