"""SQL for the local write queue: calls made while the primary was unreachable, in order."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.tables import write_queue

_q = write_queue.c


@dataclass(frozen=True)
class QueuedCall:
    seq: int  # assigned by the database: the order calls were made in
    op_id: str
    tool: str
    args: dict[str, Any]
    fingerprint: str
    entity: str
    entity_id: str | None
    base_version: int | None
    queued_at: datetime
    queued_by: str
    state: str = "pending"
    attempts: int = 0


_FIELDS = [_q[f.name] for f in fields(QueuedCall)]


async def push(conn: AsyncConnection, call: QueuedCall) -> None:
    values = {f.name: getattr(call, f.name) for f in fields(QueuedCall) if f.name != "seq"}
    await conn.execute(insert(write_queue).values(**values))


async def pending(conn: AsyncConnection, limit: int) -> list[QueuedCall]:
    """The oldest calls still to replay, in the order they were made."""
    query = select(*_FIELDS).where(_q.state == "pending").order_by(_q.seq).limit(limit)
    return [QueuedCall(**row._mapping) for row in await conn.execute(query)]


async def done(conn: AsyncConnection, op_id: str) -> None:
    await conn.execute(delete(write_queue).where(_q.op_id == op_id))


async def conflicted(conn: AsyncConnection, op_id: str) -> None:
    """Keep the call as the start of a broken chain: later calls on its entity follow it."""
    await conn.execute(update(write_queue).where(_q.op_id == op_id).values(state="conflict"))


async def follows_conflict(conn: AsyncConnection, call: QueuedCall) -> bool:
    """True when an earlier call on the same entity became a sync conflict."""
    query = select(_q.seq).where(
        _q.state == "conflict",
        _q.entity == call.entity,
        _q.entity_id == call.entity_id,
        _q.seq < call.seq,
    )
    return (await conn.scalar(query.limit(1))) is not None


async def clear_conflicted(conn: AsyncConnection) -> None:
    """Nothing is pending any more, so no chain can continue."""
    await conn.execute(delete(write_queue).where(_q.state == "conflict"))


async def failed(conn: AsyncConnection, op_id: str, error: str) -> None:
    statement = (
        update(write_queue)
        .where(_q.op_id == op_id)
        .values(attempts=_q.attempts + 1, last_error=error[:1000])
    )
    await conn.execute(statement)


async def count(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(write_queue).where(_q.state == "pending")
    return int(await conn.scalar(query) or 0)


class Watch:
    """Whether the queue, shared by every process using this file, holds writes to replay.

    Asked before every call, so it must cost next to nothing: SQLite's ``data_version``
    changes whenever another connection (of any process) commits to the file, and only
    then is the queue counted again. One connection of its own, in autocommit mode: inside
    a transaction the version would not move."""

    _COUNT = f"SELECT count(*) FROM {write_queue.name} WHERE state = 'pending'"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._version: int | None = None
        self._pending = True

    @classmethod
    async def open(cls, path: Path) -> Watch:
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            await conn.execute("PRAGMA query_only = ON")
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def pending(self) -> bool:
        ((version,),) = await self._conn.execute_fetchall("PRAGMA data_version")
        if version != self._version:
            ((count,),) = await self._conn.execute_fetchall(self._COUNT)
            self._version, self._pending = version, count > 0
        return self._pending

    async def close(self) -> None:
        await self._conn.close()
