"""SQL for the single configuration row (id 1). Rows come back as ``Configuration``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.configuration import Configuration
from worktrack.store import tap
from worktrack.store.sql import insert_if_absent
from worktrack.tables import configuration

ROW_ID = 1
COLUMNS = tuple(c.name for c in configuration.c)
_c = configuration.c


def _record(row: Any, *, written: bool = False) -> Configuration:
    values = row._asdict()
    tap.row(configuration, values, written=written)
    return Configuration.model_validate(values)


async def fetch(conn: AsyncConnection) -> Configuration | None:
    row = (await conn.execute(select(configuration).where(_c.id == ROW_ID))).first()
    return None if row is None else _record(row)


async def insert_if_missing(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Create the row unless it exists; True when this call created it."""
    inserted = await insert_if_absent(conn, configuration, {**values, "id": ROW_ID})
    if inserted:
        tap.wrote(configuration, str(ROW_ID))
    return inserted


async def update_if_version(
    conn: AsyncConnection, version: int, values: dict[str, Any]
) -> Configuration | None:
    """Apply ``values`` and bump the version, only if the stored version is ``version``."""
    statement = (
        update(configuration)
        .where(_c.id == ROW_ID, _c.version == version)
        .values(**values, version=_c.version + 1)
        .returning(*configuration.c)
    )
    row = (await conn.execute(statement)).first()
    return None if row is None else _record(row, written=True)
