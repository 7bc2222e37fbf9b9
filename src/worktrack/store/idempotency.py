"""Results of write calls made with a ``request_id``, kept so a retry can return them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.store.sql import insert_if_absent
from worktrack.tables import idempotency_keys


@dataclass(frozen=True)
class StoredResult:
    tool: str
    fingerprint: str
    result: dict[str, Any]


async def find(conn: AsyncConnection, request_id: str) -> StoredResult | None:
    query = select(
        idempotency_keys.c.tool, idempotency_keys.c.fingerprint, idempotency_keys.c.result
    ).where(idempotency_keys.c.request_id == request_id)
    row = (await conn.execute(query)).first()
    return None if row is None else StoredResult(row.tool, row.fingerprint, row.result)


async def save(
    conn: AsyncConnection,
    request_id: str,
    tool: str,
    fingerprint: str,
    result: dict[str, Any],
    now: datetime,
) -> bool:
    """Record the result; False when another call with this request_id got there first."""
    values = {
        "request_id": request_id,
        "tool": tool,
        "fingerprint": fingerprint,
        "result": result,
        "created_at": now,
    }
    return await insert_if_absent(conn, idempotency_keys, values)


async def prune(conn: AsyncConnection, before: datetime) -> int:
    """Forget results kept for retries before ``before``; how many went."""
    statement = delete(idempotency_keys).where(idempotency_keys.c.created_at < before)
    return int((await conn.execute(statement)).rowcount or 0)
