"""SQL for export and import: one consistent read of every exported table, in the export's
order, and the import's chunked inserts into an empty database (on Postgres by COPY, through
the driver under SQLAlchemy's connection: much less work per row than INSERTs)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from functools import cache, partial
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import JSON, Dialect, Integer, String, exc, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import UnavailableError, ValidationError
from worktrack.portable.kinds import EXPORTED, Kind
from worktrack.store.bulk import CHUNK_ROWS

Row = dict[str, Any]
_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
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


async def rows(conn: AsyncConnection, kind: Kind) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """``kind``'s rows in export order, each its values in column order, a chunk at a
    time, from one streamed query."""
    query = select(kind.table).order_by(*_ordering(conn, kind))
    result = await conn.stream(query.execution_options(yield_per=CHUNK_ROWS))
    async for chunk in result.partitions():
        yield chunk


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
        if conn.dialect.name == "postgresql":
            await _copy(conn, kind, chunk)
        else:
            await _executemany(conn, kind, chunk)
    except (exc.IntegrityError, *_REFUSED) as error:  # the rows, not the database
        refused = f"the database refused a {kind.name} line: {_first_line(error)}"
        raise ValidationError("file", refused) from None
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError) as error:
        # The COPY bypasses SQLAlchemy, so the edge would not see what became of it.
        said = f"postgresql did not finish loading the {kind.name} lines: {_first_line(error)}"
        raise UnavailableError(said) from error


# A COPY's row refused for its values (class 23: a key, a check; class 22: the data).
_REFUSED = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


async def _copy(conn: AsyncConnection, kind: Kind, chunk: Sequence[Row]) -> None:
    """COPY the rows in, inside the transaction the connection holds. JSON goes as text,
    as SQLAlchemy sends it; everything else as the driver's own types."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None, "a connection in use has its driver's connection"
    json_columns = _json_columns(kind)
    records = [
        tuple(_dumps(row[name]) if name in json_columns else row[name] for name in kind.columns)
        for row in chunk
    ]
    await driver.copy_records_to_table(kind.table.name, records=records, columns=list(kind.columns))


async def _executemany(conn: AsyncConnection, kind: Kind, chunk: Sequence[Row]) -> None:
    """SQLite: the driver's executemany with each column's own bind processing, without
    the per-row bookkeeping of a Core execution (half the time at 100,000 rows)."""
    sql, processors = _prepared(kind, conn.dialect)
    rows = [
        tuple(
            value if process is None else process(value)
            for value, process in zip((row[name] for name in kind.columns), processors, strict=True)
        )
        for row in chunk
    ]
    await conn.exec_driver_sql(sql, rows)


def _prepared(kind: Kind, dialect: Dialect) -> tuple[str, list[Any]]:
    key = (kind.name, dialect.name)
    if key not in _PREPARED:
        compiled = insert(kind.table).compile(dialect=dialect, column_keys=list(kind.columns))
        assert compiled.positiontup == list(kind.columns)
        processors = [
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in kind.table.c
        ]
        _PREPARED[key] = (str(compiled), processors)
    return _PREPARED[key]


_PREPARED: dict[tuple[str, str], tuple[str, list[Any]]] = {}


@cache
def _json_columns(kind: Kind) -> frozenset[str]:
    return frozenset(column.name for column in kind.table.c if isinstance(column.type, JSON))


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
