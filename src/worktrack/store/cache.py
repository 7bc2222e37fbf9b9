"""SQL for the local cache's status-file overlay: the rows writes queued here changed, as a
status report shows them, and laying rows over a database built from a status file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.hierarchy import ancestor_ids
from worktrack.store.replica import local_keys
from worktrack.tables import (
    deployment_vendors,
    deployments,
    enhancements,
    vendors,
    work_items,
)
from worktrack.text import item_search_text

Row = dict[str, Any]
_CHUNK = 400  # keys per statement: well under SQLite's bound-parameter limit


def _work_item(values: Row) -> Row:
    searched = item_search_text(
        values["title"],
        values.get("description"),
        values.get("acceptance_criteria"),
        values["metadata"],
    )
    return values | {"search_text": searched}


def _vendor(values: Row) -> Row:
    return values | {"name_key": values["name"].casefold()}


# Columns a row may lack, recomputed as the services store them.
_DERIVED: dict[str, Callable[[Row], Row]] = {
    work_items.name: _work_item,
    vendors.name: _vendor,
}


async def upsert(conn: AsyncConnection, table: Table, found: list[Row]) -> None:
    derive = _DERIVED.get(table.name)
    complete = [derive(values) if derive else values for values in found]
    statement = sqlite.insert(table)
    keys = [column.name for column in table.primary_key.columns]
    changes = {name: statement.excluded[name] for name in complete[0] if name not in keys}
    # An older version seen late (a slow read racing a write) never replaces a newer one.
    newer = table.c.version <= statement.excluded.version if "version" in table.c else None
    if changes:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=changes, where=newer)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    for columns in _same_columns(complete):
        await conn.execute(statement, columns)


def _same_columns(found: list[Row]) -> list[list[Row]]:
    """``found`` split into runs with the same keys (one executemany each)."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for values in found:
        groups.setdefault(tuple(values), []).append(values)
    return list(groups.values())


async def local_rows(conn: AsyncConnection) -> dict[str, list[Row]]:
    """The rows holding queued writes that a status report shows, with what it needs to
    show them in place: the ancestors of work items, the vendors deployments name."""
    local = {table: sorted(keys) for table, keys in (await local_keys(conn)).items()}
    items = await _rows(conn, work_items, local.get(work_items.name, []))
    above = {a for item in items for a in ancestor_ids(item["path"])}
    items += await _rows(conn, work_items, sorted(above - {item["id"] for item in items}))
    shipped = await _rows(conn, deployments, local.get(deployments.name, []))
    links = await _rows(
        conn, deployment_vendors, [d["id"] for d in shipped], column="deployment_id"
    )
    named = {link["vendor_id"] for link in links} | set(local.get(vendors.name, []))
    return {
        work_items.name: items,
        deployments.name: shipped,
        deployment_vendors.name: links,
        vendors.name: await _rows(conn, vendors, sorted(named)),
        enhancements.name: await _rows(conn, enhancements, local.get(enhancements.name, [])),
    }


async def _rows(
    conn: AsyncConnection, table: Table, ids: Sequence[str], column: str = "id"
) -> list[Row]:
    found: list[Row] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = select(table).where(table.c[column].in_(chunk))
        found += [dict(row._mapping) for row in await conn.execute(query)]
    return found
