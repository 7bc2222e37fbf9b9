"""SQL for notes: the next ordinal of an item, appending, pages newest first, archiving.

An item's notes live in ``work_item_notes`` while it is active and in
``work_item_notes_archive`` once it is archived; reads say which (``archived``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.notes import NoteRecord
from worktrack.store import tap
from worktrack.tables import UTCDateTime, work_item_notes, work_item_notes_archive

_n = work_item_notes.c


def _table(archived: bool) -> Table:
    return work_item_notes_archive if archived else work_item_notes


def _record(table: Table, row: Any, *, written: bool = False) -> NoteRecord:
    values = {column.name: getattr(row, column.name) for column in table.c}  # not extras
    tap.row(table, values, written=written)
    return NoteRecord.model_validate(values)


_NEXT = select(func.coalesce(func.max(_n.ordinal), 0) + 1).where(
    _n.work_item_id == bindparam("item")
)


async def next_ordinal(conn: AsyncConnection, item_id: str) -> int:
    """One more than the item's last ordinal. The caller holds the item's row lock (or
    SQLite's one writer), so no other note of this item is being numbered meanwhile."""
    return int(await conn.scalar(_NEXT, {"item": item_id}) or 1)


async def insert_one(conn: AsyncConnection, values: dict[str, Any]) -> NoteRecord:
    statement = insert(work_item_notes).returning(*work_item_notes.c)
    row = (await conn.execute(statement, values)).one()
    return _record(work_item_notes, row, written=True)


async def count(conn: AsyncConnection, item_id: str, *, archived: bool) -> int:
    table = _table(archived)
    query = select(func.count()).select_from(table).where(table.c.work_item_id == item_id)
    return int(await conn.scalar(query) or 0)


async def newest(
    conn: AsyncConnection, item_id: str, limit: int, *, archived: bool, before: int | None = None
) -> list[tuple[int, NoteRecord]]:
    """Up to ``limit`` notes of the item, newest first (below ordinal ``before`` if given),
    each with its ordinal (a page's cursor)."""
    table = _table(archived)
    query = select(table).where(table.c.work_item_id == item_id)
    if before is not None:
        query = query.where(table.c.ordinal < before)
    query = query.order_by(table.c.ordinal.desc()).limit(limit)
    return [(row.ordinal, _record(table, row)) for row in await conn.execute(query)]


async def newest_and_count(
    conn: AsyncConnection, item_id: str, limit: int, *, archived: bool
) -> tuple[list[NoteRecord], int]:
    """Up to ``limit`` notes of the item, newest first, and how many it has: one statement
    (the count is a window over every note of the item, taken before the limit)."""
    table = _table(archived)
    query = (
        select(*table.c, func.count().over().label("notes_total"))
        .where(table.c.work_item_id == item_id)
        .order_by(table.c.ordinal.desc())
        .limit(limit)
    )
    rows = (await conn.execute(query)).all()
    return [_record(table, row) for row in rows], int(rows[0].notes_total) if rows else 0


async def archive(conn: AsyncConnection, item_ids: Sequence[str], now: datetime) -> None:
    """Move the notes of these items to the archive (in the transaction moving the items)."""
    if not item_ids:
        return
    names = [column.name for column in work_item_notes.c]
    copied = select(*work_item_notes.c, literal(now, UTCDateTime())).where(
        _n.work_item_id.in_(item_ids)
    )
    await conn.execute(insert(work_item_notes_archive).from_select([*names, "archived_at"], copied))
    await conn.execute(delete(work_item_notes).where(_n.work_item_id.in_(item_ids)))
