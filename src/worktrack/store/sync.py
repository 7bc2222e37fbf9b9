"""SQL for replay bookkeeping in the primary: operations applied, and sync conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.store.sql import insert_if_absent
from worktrack.tables import applied_ops, sync_conflicts

_a = applied_ops.c
_s = sync_conflicts.c


async def record_op(conn: AsyncConnection, op_id: str, tool: str, now: datetime) -> str | None:
    """Record the operation as applied in this transaction; if it already was recorded,
    return how it ended then (``applied`` or ``conflict``) instead.

    Inserted in the same transaction as the operation's effect, so an operation whose
    COMMIT acknowledgement was lost is recognised when it is replayed."""
    values = {"op_id": op_id, "tool": tool, "outcome": "applied", "applied_at": now}
    if await insert_if_absent(conn, applied_ops, values):
        return None
    outcome: str | None = await conn.scalar(select(_a.outcome).where(_a.op_id == op_id))
    return outcome or "applied"


async def add_conflict(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(
        update(applied_ops).where(_a.op_id == values["op_id"]).values(outcome="conflict")
    )
    await insert_if_absent(conn, sync_conflicts, values)


async def open_conflicts(conn: AsyncConnection) -> list[dict[str, Any]]:
    query = (
        select(sync_conflicts)
        .where(_s.resolved_at.is_(None))
        .order_by(_s.detected_at, _s.queued_at, _s.id)
    )
    return [dict(row._mapping) for row in await conn.execute(query)]


async def fetch_conflict(conn: AsyncConnection, conflict_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(sync_conflicts).where(_s.id == conflict_id))).first()
    return None if row is None else dict(row._mapping)


async def resolve(
    conn: AsyncConnection, conflict_id: str, resolution: str, now: datetime, actor: str
) -> bool:
    """Close an open conflict; False when it was already closed."""
    statement = (
        update(sync_conflicts)
        .where(_s.id == conflict_id, _s.resolved_at.is_(None))
        .values(resolution=resolution, resolved_at=now, resolved_by=actor)
    )
    return (await conn.execute(statement)).rowcount == 1


async def count_open(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(sync_conflicts).where(_s.resolved_at.is_(None))
    return int(await conn.scalar(query) or 0)


async def prune_applied(conn: AsyncConnection, before: datetime) -> int:
    """Forget operation ids recorded before ``before``; a queued call older than that is
    not expected any more. How many went."""
    result = await conn.execute(delete(applied_ops).where(_a.applied_at < before))
    return int(result.rowcount or 0)
