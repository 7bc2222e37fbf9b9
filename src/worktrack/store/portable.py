"""SQL for export and import: one consistent read of every exported table, in the export's
order, and the import's chunked inserts into an empty database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Integer, String, exc, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import ValidationError
from worktrack.portable.kinds import EXPORTED, Kind
from worktrack.store.bulk import CHUNK_ROWS

Row = dict[str, Any]
# Postgres: every later statement of the transaction sees the state the first one saw.
_ONE_SNAPSHOT = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


async def snapshot(conn: AsyncConnection) -> None:
    """Make this (new) transaction read one state of the database throughout. SQLite's
    transaction does by itself (WAL: the first read fixes what it sees)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_ONE_SNAPSHOT)


def _ordering(conn: AsyncConnection, kind: Kind) -> list[Any]:
    """Byte order on both databases: SQLite compares text byte-wise; Postgres does with
    the "C" collation (UTF-8 byte order is code point order, as Python sorts)."""
    postgres = conn.dialect.name == "postgresql"
    return [
        column.collate("C") if postgres and isinstance(column.type, String) else column
        for column in kind.ordering
    ]


async def counts(conn: AsyncConnection) -> dict[str, int]:
    found = {}
    for kind in EXPORTED:
        found[kind.name] = int(await conn.scalar(select(func.count()).select_from(kind.table)) or 0)
    return found


async def rows(conn: AsyncConnection, kind: Kind) -> AsyncIterator[Sequence[Row]]:
    """``kind``'s rows in export order, a chunk at a time, from one streamed query."""
    query = select(kind.table).order_by(*_ordering(conn, kind))
    result = await conn.stream(query.execution_options(yield_per=CHUNK_ROWS))
    async for chunk in result.mappings().partitions():
        yield [dict(row) for row in chunk]


async def occupied(conn: AsyncConnection) -> list[str]:
    """The exported kinds that hold rows here (an import goes only where none does)."""
    found = []
    for kind in EXPORTED:
        if await conn.scalar(select(kind.table).exists().select()):
            found.append(kind.name)
    return found


async def insert_rows(conn: AsyncConnection, kind: Kind, chunk: Sequence[Row]) -> None:
    """One statement for a chunk of checked rows; a row the schema refuses (a duplicate
    key, a status it does not know) refuses the whole import."""
    try:
        await conn.execute(insert(kind.table), list(chunk))
    except exc.IntegrityError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        raise ValidationError(
            "file", f"the database refused a {kind.name} line: {reason}"
        ) from None


async def continue_sequences(conn: AsyncConnection) -> None:
    """Postgres: generated ids (the change log's) carry on after the imported ones.
    SQLite's continue from the largest stored id by themselves."""
    if conn.dialect.name != "postgresql":
        return
    for kind in EXPORTED:
        column = kind.table.autoincrement_column
        if column is None or not isinstance(column.type, Integer):
            continue
        table, name = kind.table.name, column.name
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{name}'), "
                f'COALESCE(MAX("{name}"), 0) + 1, false) FROM "{table}"'
            )
        )
