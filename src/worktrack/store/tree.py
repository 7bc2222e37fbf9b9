"""SQL of an item's subtree as query_work_item shows it: bounded, whatever its size.

The first ``max_nodes`` live descendants breadth-first (by depth, then age) and the count
of each status below the item: two statements that read an index range, never the
whole subtree's rows (ADR 0014)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.hierarchy import ancestor_ids, prefix_bounds, subtree_prefix
from worktrack.store import tap
from worktrack.store.work_items import RECORD_COLUMNS, SUMMARY_COLUMNS
from worktrack.tables import work_items

_w = work_items.c
_SUMMARY_NAMES = [column.name for column in SUMMARY_COLUMNS]
_BELOW = (_w.path >= bindparam("low"), _w.path < bindparam("high"), _w.deleted_at.is_(None))


def _first(columns: list[Any]) -> Any:
    return (
        select(*columns)
        .where(*_BELOW)
        .order_by(_w.depth, _w.created_at, _w.id)
        .limit(bindparam("limit", type_=Integer))
    )


# Built once: a statement's construction costs more than running it on a small subtree.
_FIRST = _first(SUMMARY_COLUMNS)
_FIRST_RECORDS = _first(RECORD_COLUMNS)  # when the rows seen fill the outage cache
_ANCESTORS = (
    select(*SUMMARY_COLUMNS).where(_w.id.in_(bindparam("ids", expanding=True))).order_by(_w.depth)
)
_ANCESTOR_RECORDS = (
    select(*RECORD_COLUMNS).where(_w.id.in_(bindparam("ids", expanding=True))).order_by(_w.depth)
)
_COUNTS = select(_w.status, func.count()).where(*_BELOW).group_by(_w.status)


def _summaries(rows: Any, whole: bool) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        values = row._asdict()
        if whole:
            tap.row(work_items, values)
            values = {name: values[name] for name in _SUMMARY_NAMES}
        found.append(values)
    return found


async def ancestors(conn: AsyncConnection, path: str) -> list[dict[str, Any]]:
    """The summary fields of the item's ancestors, root first."""
    ids = ancestor_ids(path)
    if not ids:
        return []
    whole = tap.active()
    rows = await conn.execute(_ANCESTOR_RECORDS if whole else _ANCESTORS, {"ids": ids})
    return _summaries(rows, whole)


async def first_descendants(conn: AsyncConnection, path: str, limit: int) -> list[dict[str, Any]]:
    """The summary fields of the first ``limit`` live descendants, breadth-first: every
    parent of a row returned is the item or is returned too."""
    low, high = prefix_bounds(subtree_prefix(path))
    whole = tap.active()
    query = _FIRST_RECORDS if whole else _FIRST
    rows = await conn.execute(query, {"low": low, "high": high, "limit": limit})
    return _summaries(rows, whole)


async def status_counts(conn: AsyncConnection, path: str) -> dict[str, int]:
    """How many live descendants have each status (absent statuses are left out)."""
    low, high = prefix_bounds(subtree_prefix(path))
    rows = await conn.execute(_COUNTS, {"low": low, "high": high})
    return {status: int(count) for status, count in rows}
