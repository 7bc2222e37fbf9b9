"""The change log: one row per version of every versioned entity."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.store import tap
from worktrack.tables import change_log

Changes = dict[str, list[Any]]


def change_row(
    entity: str, entity_id: str, version: int, at: datetime, by: str, changes: Changes
) -> dict[str, Any]:
    return {
        "entity": entity,
        "entity_id": entity_id,
        "version": version,
        "changed_at": at,
        "changed_by": by,
        "changes": changes,
    }


async def append(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(change_log), list(rows))


async def for_entity(
    conn: AsyncConnection, entity: str, entity_id: str, limit: int
) -> list[dict[str, Any]]:
    query = (
        select(
            change_log.c.version,
            change_log.c.changed_at,
            change_log.c.changed_by,
            change_log.c.changes,
        )
        .where(change_log.c.entity == entity, change_log.c.entity_id == entity_id)
        .order_by(change_log.c.version.desc(), change_log.c.id.desc())
        .limit(limit)
    )
    found = [dict(row._mapping) for row in await conn.execute(query)]
    for change in found:
        key = f"{entity}|{entity_id}|{change['version']}"
        tap.row(change_log, {"entity": entity, "entity_id": entity_id, **change}, key=key)
    return found
