"""SQL for the local replica of a Postgres primary (a migrated SQLite file of the same
schema): which tables it copies, how far it is up to date, the rows that writes queued on
it changed, and replacing rows with what a refresh read from the primary.

Rows are named as the primary's change feed names them: the primary key's values joined
with ``|`` (``tap.row_key``), which the triggers of alembic 0006 and ``LOCAL_TRIGGERS`` build
the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.tables import (
    change_log,
    configuration,
    dependencies,
    deployment_vendors,
    deployment_work_items,
    deployments,
    enhancement_dependencies,
    enhancements,
    replica_local,
    replica_state,
    sync_conflicts,
    vendors,
    work_item_notes,
    work_item_notes_archive,
    work_items,
    work_items_archive,
    write_queue,
)

# Every table the replica copies, whole. Adding one is one line here and one in the
# triggers' list of alembic/versions/0006_replica.py (a test checks they agree).
REPLICATED: tuple[Table, ...] = (
    work_items,
    work_items_archive,
    dependencies,
    change_log,
    vendors,
    deployments,
    deployment_vendors,
    deployment_work_items,
    configuration,
    enhancements,
    enhancement_dependencies,
    sync_conflicts,
    work_item_notes,
    work_item_notes_archive,
)
BY_NAME = {table.name: table for table in REPLICATED}
Row = dict[str, Any]
Keys = dict[str, set[str]]  # table name -> row keys
_CHUNK = 400  # keys or rows per statement: under SQLite's bound-parameter limit
_s = replica_state.c
_l = replica_local.c


@dataclass(frozen=True)
class Snapshot:
    """A snapshot of the primary: its xmin, and the whole of it as Postgres writes it."""

    xmin: int
    text: str


@dataclass(frozen=True)
class ReplicaState:
    watermark: int
    snapshot: str
    refreshed_at: datetime
    copied_at: datetime
    local_writes: int
    status_file_stale: bool


def key_values(table: Table, key: str) -> tuple[Any, ...]:
    """The primary key's values ``key`` names, each of its column's Python type."""
    columns = list(table.primary_key.columns)
    parts = key.split("|", len(columns) - 1)
    return tuple(column.type.python_type(part) for column, part in zip(columns, parts, strict=True))


def key_match(table: Table, keys: Sequence[str]) -> ColumnElement[bool]:
    columns = list(table.primary_key.columns)
    values = [key_values(table, key) for key in keys]
    if len(columns) == 1:
        return columns[0].in_([value[0] for value in values])
    return tuple_(*columns).in_(values)


def _local_trigger(table: Table, event: str) -> str:
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}[event]
    separator = " || '|' || "
    inserts = " ".join(
        f"INSERT OR IGNORE INTO {replica_local.name} (table_name, row_key) VALUES "
        f"('{table.name}', {separator.join(f'{row}.{c.name}' for c in table.primary_key)});"
        for row in rows
    )
    return (
        f"CREATE TEMP TRIGGER IF NOT EXISTS replica_local_{event}_{table.name} "
        f"AFTER {event.upper()} ON main.{table.name} BEGIN {inserts} END"
    )


# Installed on every connection that makes queued writes (and on no other): each row such a
# write changes is remembered, however the service changed it (subtree moves, history rows).
LOCAL_TRIGGERS = tuple(
    _local_trigger(table, event) for table in REPLICATED for event in ("insert", "update", "delete")
)


async def state(conn: AsyncConnection) -> ReplicaState | None:
    """How far the replica is up to date; None before its first complete copy."""
    row = (await conn.execute(select(replica_state).where(_s.id == 1))).first()
    if row is None:
        return None
    values = row._asdict()
    del values["id"]
    return ReplicaState(**values)


async def record_refresh(
    conn: AsyncConnection, snapshot: Snapshot, now: datetime, *, copied: bool
) -> None:
    values: dict[str, Any] = {
        "watermark": snapshot.xmin,
        "snapshot": snapshot.text,
        "refreshed_at": now,
    }
    if copied:
        values["copied_at"] = now
    first = {"copied_at": now, "local_writes": 0, "status_file_stale": False} | values
    statement = sqlite.insert(replica_state).values(id=1, **first)
    await conn.execute(statement.on_conflict_do_update(index_elements=[_s.id], set_=values))


async def count_local_write(conn: AsyncConnection) -> None:
    await conn.execute(update(replica_state).values(local_writes=_s.local_writes + 1))


async def mark_status_file(conn: AsyncConnection, *, stale: bool) -> None:
    await conn.execute(update(replica_state).values(status_file_stale=stale))


async def local_keys(conn: AsyncConnection) -> Keys:
    found: Keys = {}
    for row in await conn.execute(select(_l.table_name, _l.row_key)):
        found.setdefault(row.table_name, set()).add(row.row_key)
    return found


async def forget_local(conn: AsyncConnection) -> None:
    await conn.execute(delete(replica_local))


async def pending_writes(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(write_queue).where(write_queue.c.state == "pending")
    return int(await conn.scalar(query) or 0)


async def replace(
    conn: AsyncConnection, table: Table, keys: Iterable[str], rows: list[Row]
) -> None:
    """The rows named by ``keys`` become ``rows`` (a key without a row is deleted).

    Deleting first, then inserting, never trips a unique index (a path, a vendor name)
    that two of the rows swap or pass on between refreshes."""
    wanted = sorted(keys)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        await conn.execute(delete(table).where(key_match(table, chunk)))
    await insert_rows(conn, table, rows)


async def clear(conn: AsyncConnection, table: Table) -> None:
    await conn.execute(delete(table))


async def insert_rows(conn: AsyncConnection, table: Table, rows: list[Row]) -> None:
    for start in range(0, len(rows), _CHUNK):
        await conn.execute(insert(table), rows[start : start + _CHUNK])


async def row_count(conn: AsyncConnection) -> int:
    total = 0
    for table in REPLICATED:
        total += int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    return total
