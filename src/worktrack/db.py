"""Engines for both drivers, transactions, and the translation of driver failures.

Everything that touches a connection goes through ``Database.run``: it opens a
transaction (``BEGIN IMMEDIATE`` for SQLite writes, so a read-then-write never fails to
upgrade its lock), retries transient failures (deadlock, serialization, busy), and turns
"the server is gone" into ``UnavailableError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from worktrack.errors import ConflictError, UnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")
Unit = Callable[[AsyncConnection], Awaitable[T]]
DataSource = Literal["postgresql", "sqlite", "sqlite_cache", "git_history", "markdown_file"]

_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock
# Connection exceptions, and a server shutting down, starting up or crashed: the primary
# is gone (for now), whatever the request was.
_GONE_SQLSTATE_PREFIXES = ("08", "57P")
_ATTEMPTS = 5
_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


class Runner(Protocol):
    """Anything that runs units of work: a ``Database``, or the primary behind its health."""

    @property
    def source(self) -> DataSource: ...

    async def run(self, unit: Unit[T], *, write: bool = False) -> T: ...


class Database:
    """One engine plus how to run units of work on it."""

    def __init__(self, engine: AsyncEngine, source: DataSource) -> None:
        self.engine = engine
        self.source = source

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def run(self, unit: Unit[T], *, write: bool = False) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return await self._once(unit, write)
            except exc.DBAPIError as error:
                if _is_transient(error) and attempt < _ATTEMPTS:
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                raise _translate(error, self.source) from error
            except (OSError, TimeoutError, exc.TimeoutError) as error:
                # exc.TimeoutError: no pooled connection came free within pool_timeout.
                raise _unavailable(self.source, error) from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, unit: Unit[T], write: bool) -> T:
        async with self.engine.connect() as conn:
            if write:
                await conn.execution_options(worktrack_write=True)
            async with conn.begin():
                return await unit(conn)

    async def dispose(self) -> None:
        await self.engine.dispose()


def integrity_conflict(error: BaseException) -> ConflictError | None:
    """A unique or foreign key violation as the domain's ``ConflictError``; else None.

    For callers that run a statement inside a savepoint and carry on after it fails (the
    replay of a queued write): the violation is an outcome, not a crash."""
    if isinstance(error, exc.IntegrityError):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return ConflictError(f"the change conflicts with what is stored: {reason}", reason=reason)
    return None


def _is_transient(error: exc.DBAPIError) -> bool:
    if getattr(error.driver_exception, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    return isinstance(error, exc.OperationalError) and "database is locked" in str(error)


def _translate(error: exc.DBAPIError, source: DataSource) -> Exception:
    sqlstate = str(getattr(error.driver_exception, "sqlstate", "") or "")
    gone = sqlstate.startswith(_GONE_SQLSTATE_PREFIXES)
    if gone or error.connection_invalidated or isinstance(error, exc.InterfaceError):
        return _unavailable(source, error)
    if isinstance(error, exc.OperationalError) and "database is locked" in str(error):
        return UnavailableError("the database stayed locked by another writer", layer=source)
    return error


def _unavailable(source: DataSource, error: BaseException) -> UnavailableError:
    cause = getattr(error, "orig", None) or error  # the driver's words, not SQLAlchemy's
    text = str(cause).strip()
    reason = text.splitlines()[0] if text else type(cause).__name__
    return UnavailableError(f"{source} is unreachable: {reason}", layers={source: reason})


def create_engine(
    url: str,
    *,
    connect_timeout: float = 2.0,
    statement_timeout: float = 5.0,
    synchronous: str = "NORMAL",
    foreign_keys: bool = True,
) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, synchronous, foreign_keys)
    return create_async_engine(
        url,
        json_serializer=_dumps,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=connect_timeout + statement_timeout,
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": statement_timeout,
            "server_settings": {
                "application_name": "worktrack",
                "statement_timeout": str(int(statement_timeout * 1000)),
                "lock_timeout": str(int(statement_timeout * 1000)),
                "idle_in_transaction_session_timeout": "60000",
            },
        },
    )


def _sqlite_engine(
    url: str, database: str | None, synchronous: str, foreign_keys: bool
) -> AsyncEngine:
    in_memory = not database or database == ":memory:"
    if not in_memory:
        Path(database or "").parent.mkdir(parents=True, exist_ok=True)
    # One shared connection keeps an in-memory database alive between units of work.
    pooling: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {}
    engine = create_async_engine(url, json_serializer=_dumps, **pooling)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, emits BEGIN
        cursor = dbapi_conn.cursor()
        pragmas = (
            "journal_mode=WAL",
            f"foreign_keys={'ON' if foreign_keys else 'OFF'}",
            "busy_timeout=5000",
            f"synchronous={synchronous}",
        )
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get("worktrack_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def source_of(url: str) -> DataSource:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"
