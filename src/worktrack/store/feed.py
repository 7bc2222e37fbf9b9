"""SQL on the primary (Postgres) for the local replica: the one snapshot a refresh reads in,
the rows changed since a watermark, whole tables for a first copy, and pruning old changes.

The change feed is ``replica_changes``, filled by triggers (alembic 0006) in the writing
transaction itself, so a change row is visible exactly when its change is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

from sqlalchemy import (
    ColumnElement,
    Interval,
    Table,
    delete,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.store.replica import Keys, Row, Snapshot, key_match
from worktrack.tables import replica_changes, replica_horizon

_CHUNK = 200  # keys per statement (short steps for the event loop)
_c = replica_changes.c
_h = replica_horizon.c


async def begin_snapshot(conn: AsyncConnection) -> Snapshot:
    """Make this transaction read everything from one snapshot (REPEATABLE READ) and return
    it. Every transaction with an id below its xmin had finished when it was taken, so a
    transaction this snapshot cannot see has an id at least that large."""
    await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    found = await conn.execute(
        text(
            "SELECT pg_snapshot_xmin(s)::text::bigint AS xmin, s::text AS whole "
            "FROM (SELECT pg_current_snapshot() AS s) AS now"
        )
    )
    row = found.one()
    return Snapshot(int(row.xmin), str(row.whole))


async def horizon(conn: AsyncConnection) -> int:
    """Changes of transactions below this id are gone (pruned, or a TRUNCATE happened)."""
    return int(await conn.scalar(select(_h.pruned_below).where(_h.id == 1)) or 0)


async def changed_keys(conn: AsyncConnection, since: Snapshot) -> Keys:
    """The rows changed by every transaction the snapshot ``since`` could not see: those
    still running when it was taken, and those that began later. (Transactions it saw
    finished are skipped, so a long-running one elsewhere on the server does not make
    every refresh read again all the changes made since it began.)"""
    invisible = text(
        "NOT pg_visible_in_snapshot(txid::text::xid8, CAST(:since AS pg_snapshot))"
    ).bindparams(since=since.text)
    query = select(_c.table_name, _c.row_key).where(_c.txid >= since.xmin, invisible).distinct()
    found: Keys = {}
    for row in await conn.execute(query):
        found.setdefault(row.table_name, set()).add(row.row_key)
    return found


async def rows(conn: AsyncConnection, table: Table, keys: Iterable[str]) -> list[Row]:
    """The rows of ``table`` named by ``keys`` that exist."""
    wanted = sorted(keys)
    found: list[Row] = []
    for start in range(0, len(wanted), _CHUNK):
        query = select(table).where(key_match(table, wanted[start : start + _CHUNK]))
        found += [dict(row._mapping) for row in await conn.execute(query)]
    return found


async def stream(conn: AsyncConnection, table: Table, size: int) -> AsyncIterator[list[Row]]:
    """Every row of ``table``, ``size`` at a time (a server-side cursor)."""
    result = await conn.stream(select(table))
    async for part in result.partitions(size):
        yield [dict(row._mapping) for row in part]


async def prune(conn: AsyncConnection, keep: timedelta) -> int:
    """Forget the changes older than ``keep`` (by the primary's clock), keeping every
    transaction that also changed something since (or is still running); raise the horizon
    past the newest transaction forgotten. Returns how many change rows went."""
    since = func.now() - literal(keep, Interval())
    newest = select(func.min(_c.txid)).where(_c.changed_at >= since).scalar_subquery()
    running: ColumnElement[int] = literal_column(
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    )
    keep_from = int(await conn.scalar(select(func.least(newest, running))) or 0)
    # Every transaction below keep_from has finished: no change row can appear there now.
    forgotten = await conn.scalar(select(func.max(_c.txid)).where(_c.txid < keep_from))
    if forgotten is None:
        return 0
    gone = await conn.execute(delete(replica_changes).where(_c.txid <= forgotten))
    statement = postgresql.insert(replica_horizon).values(
        id=1, pruned_below=int(forgotten) + 1, pruned_at=func.now()
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[_h.id],
            set_={
                "pruned_below": func.greatest(_h.pruned_below, statement.excluded.pruned_below),
                "pruned_at": statement.excluded.pruned_at,
            },
        )
    )
    return int(gone.rowcount or 0)
