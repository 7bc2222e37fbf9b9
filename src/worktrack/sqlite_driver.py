"""SQLAlchemy's aiosqlite adaptation with one thread hop per statement instead of four.

aiosqlite runs every call on its connection's own thread; each call is a hop there and a
wake-up of the event loop back (a futex and a self-pipe write: 0.1-0.2 ms of CPU each on a
small VM). SQLAlchemy's adaptation makes four per statement (open a cursor, execute,
fetch all rows, close), and one more for a COMMIT or ROLLBACK even when no transaction is
open. Here a statement is one hop (the cursor opened, executed, read and closed on the
connection's thread) and ending a transaction that is not open is none. Server-side
cursors (``conn.stream``) keep SQLAlchemy's own class: they fetch in chunks.

Statements never run on the event loop's thread: even a read of microseconds can wait on
a checkpoint or a busy file, and the event loop serves every other call meanwhile.

Used by ``db.create_engine`` for ``sqlite+aiosqlite`` URLs through ``module=``; the
statements, errors and transaction rules are SQLAlchemy's and sqlite3's unchanged.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool = False) -> _Outcome:
    """On the connection's thread: the statement, its rows, rowcount and lastrowid."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement runs in one hop (no driver cursor kept open)."""

    __slots__ = ("_count", "_described", "_last_id")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._described: Any = None
        self._count = -1
        self._last_id: int | None = None

    @property
    def description(self) -> Any:
        return self._described

    @property
    def rowcount(self) -> int:
        return self._count

    @property
    def lastrowid(self) -> Any:
        return self._last_id

    async def _async_soft_close(self) -> None:
        return  # nothing left open on the driver's side

    async def _hop(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: Any = self._connection  # an aiosqlite.Connection
        adapted: Any = self._adapt_connection  # a _Connection
        async with adapted._execute_mutex:
            outcome = await connection._execute(_run, connection._conn, operation, parameters, many)
        self._described, rows, self._count, self._last_id = outcome
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._hop(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._hop(operation, seq_of_parameters, True)


class _Connection(AsyncAdapt_aiosqlite_connection):
    _cursor_cls = _Cursor

    def _open(self) -> bool:
        # Read on the event loop's thread: the connection is idle (SQLAlchemy uses it from
        # one task at a time) and sqlite3 reads its autocommit flag without locking.
        connection: Any = self._connection  # an aiosqlite.Connection
        return connection._connection is not None and bool(connection.in_transaction)

    def rollback(self) -> None:
        if self._open():
            super().rollback()

    def commit(self) -> None:
        if self._open():
            super().commit()


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        # As SQLAlchemy's own: the thread never holds up an exit (before aiosqlite 0.22
        # the connection was the thread).
        getattr(connection, "_thread", connection).daemon = True
        return _Connection(self, await_(connection))


DBAPI = _DBAPI(aiosqlite, sqlite3)
