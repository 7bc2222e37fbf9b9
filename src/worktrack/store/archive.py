"""SQL for the work-item archive: which items may move, the move, and reads of archived rows.

Archived rows are work items as they were, plus ``archived_at``; they come back as
``WorkItem`` models with ``archived_at`` set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    delete,
    exists,
    insert,
    literal,
    not_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.hierarchy import prefix_bounds, subtree_prefix
from worktrack.models.work_items import WorkItem
from worktrack.store.work_items import ListFilter, capped_count
from worktrack.tables import CLOSED_STATUSES, UTCDateTime, work_items, work_items_archive

RECORD_COLUMNS = [c for c in work_items_archive.c if c.name != "search_text"]
_w = work_items.c
_a = work_items_archive.c


def _finished(table: FromClause, cutoff: datetime) -> ColumnElement[bool]:
    """Closed (completed or cancelled) or deleted, and not updated since ``cutoff``."""
    done = or_(table.c.status.in_(CLOSED_STATUSES), table.c.deleted_at.is_not(None))
    return and_(done, table.c.updated_at < cutoff)


def _movable(cutoff: datetime) -> ColumnElement[bool]:
    """Finished long enough ago, with nothing below it that has to stay active."""
    below = work_items.alias("below")
    # Descendants' paths start with "<path>/": the half-open range ["<path>/", "<path>0")
    # ("0" follows "/"), which the path index answers.
    stays = exists().where(
        below.c.path > _w.path + "/",
        below.c.path < _w.path + "0",
        not_(_finished(below, cutoff)),
    )
    return and_(_finished(work_items, cutoff), ~stays)


async def movable_ids(
    conn: AsyncConnection, cutoff: datetime, among: Sequence[str] | None = None
) -> list[str]:
    """Ids that may move now (of ``among``, if given), deepest first, so that moving them
    in this order never takes a parent before its children. Locked on Postgres, so two
    archivers never move one row twice."""
    query = select(_w.id).where(_movable(cutoff)).order_by(_w.depth.desc(), _w.id)
    if among is not None:
        query = query.where(_w.id.in_(among)).with_for_update(of=work_items)
    return list((await conn.scalars(query)).all())


async def move(conn: AsyncConnection, ids: Sequence[str], now: datetime) -> None:
    """Copy the rows whole into the archive, then delete them from the active table."""
    names = [c.name for c in work_items.c]
    copied = select(*work_items.c, literal(now, UTCDateTime())).where(_w.id.in_(ids))
    await conn.execute(insert(work_items_archive).from_select([*names, "archived_at"], copied))
    await conn.execute(delete(work_items).where(_w.id.in_(ids)))


def _record(row: Any) -> WorkItem:
    return WorkItem.model_validate(row._mapping)


def _select() -> Select[Any]:
    return select(*RECORD_COLUMNS)


async def fetch(conn: AsyncConnection, item_id: str) -> WorkItem | None:
    row = (await conn.execute(_select().where(_a.id == item_id))).first()
    return None if row is None else _record(row)


async def fetch_many(conn: AsyncConnection, ids: Iterable[str]) -> list[WorkItem]:
    wanted = list(ids)
    if not wanted:
        return []
    return [_record(row) for row in await conn.execute(_select().where(_a.id.in_(wanted)))]


async def descendants(conn: AsyncConnection, path: str) -> list[WorkItem]:
    low, high = prefix_bounds(subtree_prefix(path))
    query = (
        _select()
        .where(_a.path >= low, _a.path < high, _a.deleted_at.is_(None))
        .order_by(_a.depth, _a.created_at, _a.id)
    )
    return [_record(row) for row in await conn.execute(query)]


async def list_page(
    conn: AsyncConnection, where: ListFilter, limit: int, after: tuple[datetime, str] | None
) -> tuple[list[WorkItem], int]:
    """One page of the archive, newest ``updated_at`` first, plus the count of all matches."""
    conditions = where.conditions(work_items_archive)
    total = await conn.scalar(capped_count(work_items_archive, conditions))
    query = _select().where(*conditions).order_by(_a.updated_at.desc(), _a.id.desc()).limit(limit)
    if after is not None:
        query = query.where(tuple_(_a.updated_at, _a.id) < tuple_(*after))
    return [_record(row) for row in await conn.execute(query)], int(total or 0)
