"""SQL for the local cache: a SQLite file of the same schema holding the rows the primary
showed, and ``cache_entries`` saying when each entity row was seen and whether it holds a
queued write the primary has not confirmed yet (``local``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.hierarchy import ancestor_ids
from worktrack.store.tap import Row, Seen
from worktrack.tables import (
    cache_entries,
    change_log,
    configuration,
    dependencies,
    deployment_vendors,
    deployments,
    enhancements,
    metadata,
    vendors,
    work_items,
)
from worktrack.text import search_text

Key = tuple[str, str]
# The entity tables whose rows carry a cached_at; link rows are as fresh as their owners.
TRACKED = ("work_items", "vendors", "deployments", "enhancements", "configuration")
_LINK_TABLES = {
    "work_item_dependencies",
    "deployment_vendors",
    "deployment_work_items",
    "enhancement_dependencies",
}
_CHUNK = 400  # keys per statement: well under SQLite's bound-parameter limit
_c = cache_entries.c


def _work_item(values: Row) -> Row:
    return values | {"search_text": search_text(values["title"], values["metadata"])}


def _vendor(values: Row) -> Row:
    return values | {"name_key": values["name"].casefold()}


# Columns the store leaves out of the rows it returns, recomputed as the services store them.
_DERIVED: dict[str, Callable[[Row], Row]] = {
    work_items.name: _work_item,
    vendors.name: _vendor,
}


@dataclass(frozen=True)
class CacheStats:
    entries: int
    oldest: datetime | None
    local: int


async def absorb(conn: AsyncConnection, batch: Sequence[tuple[Seen, datetime]]) -> None:
    """Store what the primary showed in a batch of calls: rows (never over a newer version),
    complete link sets, deletions, and when each entity row was seen.

    Entity rows only move forward (the version guard), so the batch's rows merge into one
    upsert per table; link rows can disappear, so their changes apply in the order seen."""
    entities: dict[Key, Row] = {}
    links: list[tuple[str, Any]] = []
    when: dict[Key, datetime] = {}
    for seen, at in batch:
        for key, values in seen.rows.items():
            if key[0] in _LINK_TABLES:
                links.append(("row", (key[0], values)))
            elif key not in entities or _newer(values, entities[key]):
                entities[key] = values
        links += [("set", link) for link in seen.link_sets]
        links += [("delete", gone) for gone in seen.deleted]
        for key in seen.shown() | seen.written:
            when[key] = max(at, when.get(key, at))
    by_table: dict[str, list[Row]] = {}
    for (table_name, _key), values in entities.items():
        by_table.setdefault(table_name, []).append(values)
    for table_name, found in by_table.items():
        if table_name == change_log.name:
            await _replace_history(conn, found)
        else:
            await upsert(conn, metadata.tables[table_name], found)
    await _apply_links(conn, links)
    for at in set(when.values()):
        await mark(conn, [key for key, then in when.items() if then == at], at, local=False)


def _newer(values: Row, than: Row) -> bool:
    return bool(values.get("version", 0) >= than.get("version", 0))


async def _apply_links(conn: AsyncConnection, changes: list[tuple[str, Any]]) -> None:
    previous: tuple[str, Any] | None = None
    for change in changes:
        if change == previous:  # the same read twice in a row changes nothing twice
            continue
        previous = change
        kind, what = change
        if kind == "row":
            table_name, values = what
            await upsert(conn, metadata.tables[table_name], [values])
        elif kind == "set":
            table = metadata.tables[what.table]
            match = or_(*(table.c[c] == what.value for c in what.columns))
            await conn.execute(delete(table).where(match))
            if what.rows:
                await upsert(conn, table, list(what.rows))
        else:
            table_name, key = what
            table = metadata.tables[table_name]
            await conn.execute(delete(table).where(*(table.c[k] == v for k, v in key.items())))


async def mark(conn: AsyncConnection, keys: Iterable[Key], now: datetime, *, local: bool) -> None:
    """Record that these entity rows were seen (or, ``local``, written by a queued call) now."""
    entries = [
        {"table_name": table, "row_key": key, "cached_at": now, "local": local}
        for table, key in keys
        if table in TRACKED
    ]
    if not entries:
        return
    statement = sqlite.insert(cache_entries)
    statement = statement.on_conflict_do_update(
        index_elements=[_c.table_name, _c.row_key],
        set_={"cached_at": statement.excluded.cached_at, "local": statement.excluded.local},
    )
    await conn.execute(statement, entries)


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


async def _replace_history(conn: AsyncConnection, found: list[Row]) -> None:
    # change_log ids differ between databases; (entity, entity_id, version) is the identity.
    h = change_log.c
    for values in found:
        await conn.execute(
            delete(change_log).where(
                h.entity == values["entity"],
                h.entity_id == values["entity_id"],
                h.version == values["version"],
            )
        )
    await conn.execute(change_log.insert(), found)


async def seen_at(conn: AsyncConnection, keys: Sequence[Key]) -> dict[Key, tuple[datetime, bool]]:
    """When each of ``keys`` was cached and whether it is local; missing keys are absent."""
    wanted = [key for key in keys if key[0] in TRACKED]
    found: dict[Key, tuple[datetime, bool]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = select(_c.table_name, _c.row_key, _c.cached_at, _c.local).where(
            tuple_(_c.table_name, _c.row_key).in_(chunk)
        )
        for row in await conn.execute(query):
            found[(row.table_name, row.row_key)] = (row.cached_at, row.local)
    return found


async def local_keys(conn: AsyncConnection) -> list[Key]:
    """Entity rows that hold queued writes the primary has not confirmed."""
    query = select(_c.table_name, _c.row_key).where(_c.local.is_(True))
    return [(row.table_name, row.row_key) for row in await conn.execute(query)]


# The table each kind of queued write changes, by the entity name the services use.
_ENTITY_TABLES = {
    "work_item": work_items,
    "vendor": vendors,
    "deployment": deployments,
    "enhancement": enhancements,
    "configuration": configuration,
    "dependency": dependencies,
}


async def drop(conn: AsyncConnection, entity: str, entity_id: str | None) -> None:
    """Remove an entity's cached row and its bookkeeping."""
    table = _ENTITY_TABLES.get(entity)
    if table is None or entity_id is None:
        return
    names = [column.name for column in table.primary_key.columns]
    parts = entity_id.split("|", len(names) - 1)
    if len(parts) != len(names):
        return
    where = [table.c[name] == part for name, part in zip(names, parts, strict=True)]
    await conn.execute(delete(table).where(*where))
    await forget(conn, [(table.name, entity_id)])


async def forget(conn: AsyncConnection, keys: Iterable[Key]) -> None:
    """No longer vouch for these rows: they are never served as fresh again until re-read."""
    for table, key in keys:
        await conn.execute(delete(cache_entries).where(_c.table_name == table, _c.row_key == key))


async def confirm_all(conn: AsyncConnection) -> None:
    """Nothing is queued any more: no row holds an unconfirmed write."""
    await conn.execute(update(cache_entries).where(_c.local.is_(True)).values(local=False))


async def stats(conn: AsyncConnection) -> CacheStats:
    entries = await conn.scalar(select(func.count()).select_from(cache_entries))
    local = await conn.scalar(select(func.count()).where(_c.local.is_(True)))
    oldest = await conn.scalar(select(_c.cached_at).order_by(_c.cached_at).limit(1))
    return CacheStats(int(entries or 0), oldest, int(local or 0))


async def local_rows(conn: AsyncConnection) -> dict[str, list[Row]]:
    """The rows holding queued writes that a status report shows, with what it needs to
    show them in place: the ancestors of work items, the vendors deployments name."""
    local: dict[str, list[str]] = {}
    for table, key in await local_keys(conn):
        local.setdefault(table, []).append(key)
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
