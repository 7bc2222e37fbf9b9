"""SQL for ``legacy_imports``: the status files imported, by the SHA-256 of their bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.store.sql import insert_if_absent
from worktrack.tables import legacy_imports

_l = legacy_imports.c


async def claim(conn: AsyncConnection, sha256: str, path: str, now: datetime, actor: str) -> bool:
    """Record the import of this content; False when it was imported before. On Postgres a
    concurrent import of the same content waits here for the first to finish."""
    values = {
        "source_sha256": sha256,
        "source_path": path,
        "imported_at": now,
        "imported_by": actor,
        "result": {},
    }
    return await insert_if_absent(conn, legacy_imports, values)


async def imported_at(conn: AsyncConnection, sha256: str) -> datetime | None:
    return await conn.scalar(select(_l.imported_at).where(_l.source_sha256 == sha256))


async def record_result(conn: AsyncConnection, sha256: str, result: dict[str, Any]) -> None:
    await conn.execute(
        update(legacy_imports).where(_l.source_sha256 == sha256).values(result=result)
    )
