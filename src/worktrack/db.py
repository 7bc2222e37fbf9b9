"""Engines for both drivers, transactions, and failures named for what they are.

Everything that touches a connection goes through ``Database.run``: it opens a
transaction (``BEGIN IMMEDIATE`` for SQLite writes, so a read-then-write never fails to
upgrade its lock), except around a read of one statement (``OneStatement``), which is
atomic by itself and runs without BEGIN and COMMIT (two round trips of the four a small
read cost on Postgres). It sorts every driver failure into one of three classes
(``docs/adr/0016-down-slow-retry.md``):

- **retry**: a deadlock or serialization failure, SQLite busy, or a connection lost before
  COMMIT was sent: nothing was applied, so the unit runs again on a fresh connection.
- **down**: no connection can be had (refused, DNS, connect timeout, a server refusing
  sessions), a lost connection that cannot be replaced, a statement with no answer while
  a fresh connection gets none either, or a connection lost during COMMIT (applied or
  not: only the operation id can tell) → ``UnavailableError`` with ``state: "down"``.
- **slow**: the server is up but did not finish: a statement or lock timeout, no answer
  within the client's command timeout while a fresh connection is answered, a deadlock on
  every attempt, a pool that stayed busy → ``SlowError`` (``state: "slow"``).

Anything else the driver raises (a constraint, bad SQL, a database that does not exist)
is not about availability and passes through unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from worktrack import sqlite_driver
from worktrack.errors import (
    ConflictError,
    DownCause,
    SlowCause,
    SlowError,
    UnavailableError,
    current_operation,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Unit = Callable[[AsyncConnection], Awaitable[T]]
DataSource = Literal["postgresql", "sqlite", "sqlite_cache", "git_history", "markdown_file"]
Phase = Literal["connect", "statement", "commit"]

_RETRIED: dict[str, SlowCause] = {"40001": "serialization_failure", "40P01": "deadlock"}
# Connection exceptions, and a server shutting down, starting up or crashed: the session
# is gone, whatever the request was. While connecting, also "insufficient resources" (too
# many connections): no session can be had.
_GONE_SQLSTATE_PREFIXES = ("08", "57P")
_NO_SESSION_SQLSTATE_PREFIXES = (*_GONE_SQLSTATE_PREFIXES, "53")
_ATTEMPTS = 5
# The client waits this much longer than the server's statement timeout, so a slow
# statement is reported by the server itself (57014) and the client's own timeout fires
# only when the server says nothing at all.
COMMAND_GRACE_SECONDS = 1.0
# Lock waits end before the statement timeout, so a lock wait is named as one (55P03).
LOCK_SHARE = 0.8
_TIMEOUTS_OPTION = "worktrack_timeouts"
_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """A JSON column's value: orjson (5x the standard library's speed; a status report
    decodes thousands), or the standard library for what orjson refuses (integers past
    64 bits, which Postgres's jsonb keeps)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class OneStatement(Generic[T]):
    """A read unit that runs exactly one statement. A single statement sees one snapshot
    on its own (Postgres and SQLite alike), so it needs no transaction around it: it runs
    in autocommit. A unit that runs several statements must not be marked: on Postgres
    (READ COMMITTED) each would see a different moment."""

    def __init__(self, unit: Unit[T]) -> None:
        self.unit = unit

    async def __call__(self, conn: AsyncConnection) -> T:
        return await self.unit(conn)


_AUTOCOMMIT = "worktrack_autocommit"


class Runner(Protocol):
    """Anything that runs units of work: a ``Database``, or the primary behind its health."""

    @property
    def source(self) -> DataSource: ...

    async def run(self, unit: Unit[T], *, write: bool = False) -> T: ...


@dataclass(frozen=True)
class Timeouts:
    """The limits a Postgres engine was made with (seconds), for naming what passed them;
    None where unknown (SQLite's busy timeout is its own)."""

    connect: float | None = None
    statement: float | None = None
    lock: float | None = None
    command: float | None = None
    pool: float | None = None


_UNKNOWN = Timeouts()


@dataclass
class _Step:
    phase: Phase = "connect"


@dataclass(frozen=True)
class _Verdict:
    error: UnavailableError  # raised when the unit is not (or no longer) retried
    retry: bool = False


class Database:
    """One engine plus how to run units of work on it."""

    def __init__(self, engine: AsyncEngine, source: DataSource) -> None:
        self.engine = engine
        self.source = source
        self.attempts = _ATTEMPTS  # runs of a unit met by retry-class failures
        # The same pool, for ``OneStatement`` reads: on Postgres in autocommit (asyncpg
        # then sends no BEGIN and no COMMIT); on SQLite without the explicit BEGIN (see
        # ``_begin``).
        # Set once here: an option set per connection costs a greenlet switch a call.
        single = {"isolation_level": "AUTOCOMMIT"} if self.dialect == "postgresql" else {}
        self._single = engine.execution_options(**single, **{_AUTOCOMMIT: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def timeouts(self) -> Timeouts:
        found: Timeouts = self.engine.get_execution_options().get(_TIMEOUTS_OPTION, _UNKNOWN)
        return found

    async def run(self, unit: Unit[T], *, write: bool = False) -> T:
        for attempt in range(1, self.attempts + 1):
            step = _Step()
            try:
                return await self._once(unit, write, step)
            except (exc.DBAPIError, OSError, exc.TimeoutError) as error:
                # OSError: refused, DNS, and TimeoutError (connect or command timeout).
                # exc.TimeoutError: no pooled connection came free within pool_timeout.
                verdict = await self._judge(error, step.phase, write)
                if verdict is None:
                    raise
                if verdict.retry and attempt < self.attempts:
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                raise verdict.error from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, unit: Unit[T], write: bool, step: _Step) -> T:
        if isinstance(unit, OneStatement) and not write:
            async with self._single.connect() as conn:
                step.phase = "statement"
                answer: T = await unit(conn)
                return answer
        async with self.engine.connect() as conn:
            step.phase = "statement"
            if write:
                await conn.execution_options(worktrack_write=True)
            async with conn.begin():
                result = await unit(conn)
                step.phase = "commit"
            return result

    async def answers(self) -> bool:
        """Whether the server answers a fresh connection now, within the connect timeout
        (outside the pool, whose connections may all be stuck)."""
        timeout = self.timeouts.connect
        if self.dialect != "postgresql" or timeout is None:
            return True
        _, params = self.engine.dialect.create_connect_args(self.engine.url)
        for sqlalchemy_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            params.pop(sqlalchemy_only, None)
        deadline = time.monotonic() + timeout  # the whole probe, not each step
        try:
            conn = await asyncpg.connect(**params, timeout=timeout)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        try:
            await conn.fetchval("SELECT 1", timeout=max(0.05, deadline - time.monotonic()))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        finally:
            conn.terminate()
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()

    # -- naming failures --------------------------------------------------------------------

    async def _judge(self, error: BaseException, phase: Phase, write: bool) -> _Verdict | None:
        if isinstance(error, exc.TimeoutError):
            waited = _limit(self.timeouts.pool, "for {} s")
            return _Verdict(
                self._slow("pool_timeout", f"every pooled connection stayed busy{waited}", write)
            )
        if isinstance(error, exc.DBAPIError) and _sqlite_locked(error):  # even while connecting
            return self._refused(error, write)
        if phase == "connect":
            return _unreachable(self.source, error)
        if phase == "commit" and write and _lost(error):  # a timeout included
            return _Verdict(_down(self.source, "commit_unknown", _COMMIT_UNKNOWN))
        if isinstance(error, TimeoutError):
            return await self._no_answer(error, write)
        if _lost(error):
            return _Verdict(_down(self.source, "connection_lost", _reason(error)), retry=True)
        if isinstance(error, exc.DBAPIError):
            return self._refused(error, write)
        return None

    async def _no_answer(self, error: TimeoutError, write: bool) -> _Verdict:
        """The client's command timeout passed: slow if the server answers a fresh
        connection, down if it does not."""
        if not await self.answers():
            return _Verdict(_down(self.source, "no_answer", _SILENT))
        within = _limit(self.timeouts.command, "within the {} s command timeout")
        what = f"{_doing(error)} got no answer{within}, though the server answers new connections"
        return _Verdict(self._slow("command_timeout", what, write))

    def _refused(self, error: exc.DBAPIError, write: bool) -> _Verdict | None:
        """A statement the server (or SQLite) gave up on, if it did so for lack of time."""
        sqlstate, doing, limits = _sqlstate(error), _doing(error), self.timeouts
        found: tuple[SlowCause, str] | None = None
        if sqlstate == "40P01":
            found = "deadlock", f"{doing} was chosen as a deadlock victim"
        elif sqlstate == "40001":
            found = "serialization_failure", f"{doing} could not be serialized"
        elif sqlstate == "55P03":
            lock = _limit(limits.lock, "the {} s lock timeout")
            found = "lock_timeout", f"{doing} waited past{lock or ' its lock timeout'} for a lock"
        elif sqlstate == "57014" and "statement timeout" in str(error):
            limit = _limit(limits.statement, "the {} s statement timeout")
            found = "statement_timeout", f"{doing} ran past{limit or ' its statement timeout'}"
        elif sqlstate == "57014":
            found = "canceled", f"{doing} was cancelled on the server ({_reason(error)})"
        elif _sqlite_locked(error):
            found = "lock_timeout", "the database stayed locked by another writer"
        if found is None:
            return None
        cause, what = found
        retry = cause in ("deadlock", "serialization_failure") or _sqlite_locked(error)
        if retry:
            what += f" on each of {self.attempts} attempts"
        details = {"sqlstate": sqlstate} if sqlstate else {}
        if error.statement:
            details["statement"] = doing
        return _Verdict(self._slow(cause, what, write, **details), retry=retry)

    def _slow(self, cause: SlowCause, what: str, write: bool, **details: Any) -> SlowError:
        operation = current_operation()
        reason = f"in {operation}, {what}" if operation else what
        if write:
            reason += "; nothing was changed, the call may be retried"
        return SlowError(self.source, cause, reason, operation=operation, **details)


_SILENT = "a statement got no answer, and a new connection got none either"
_COMMIT_UNKNOWN = (
    "the connection was lost during COMMIT: the change may or may not have been applied"
)


def _down(source: DataSource, cause: DownCause, reason: str) -> UnavailableError:
    return UnavailableError(
        f"{source} is unreachable: {reason}",
        layers={source: reason},
        state="down",
        cause=cause,
        operation=current_operation(),
    )


def _unreachable(source: DataSource, error: BaseException) -> _Verdict | None:
    """A connection could not be had: the primary is down, unless the server refused
    for a reason a retry cannot cure (no such database, bad password)."""
    cause: DownCause
    if isinstance(error, socket.gaierror):
        cause = "dns"
    elif isinstance(error, ConnectionRefusedError):
        cause = "connection_refused"
    elif isinstance(error, TimeoutError):
        cause = "connect_timeout"
    elif isinstance(error, OSError) or _lost(error) or _no_session(error):
        cause = "cannot_connect"
    else:
        return None
    return _Verdict(_down(source, cause, _reason(error)))


def _limit(seconds: float | None, template: str) -> str:
    """`` `` + the template filled with the limit, or "" when the limit is not known."""
    return " " + template.format(f"{seconds:g}") if seconds else ""


def _lost(error: BaseException) -> bool:
    if isinstance(error, OSError):  # reset, broken pipe (TimeoutError is judged before)
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    gone = _sqlstate(error).startswith(_GONE_SQLSTATE_PREFIXES)
    return gone or error.connection_invalidated or isinstance(error, exc.InterfaceError)


def _no_session(error: BaseException) -> bool:
    if not isinstance(error, exc.DBAPIError):
        return False
    return _sqlstate(error).startswith(_NO_SESSION_SQLSTATE_PREFIXES)


def _sqlstate(error: exc.DBAPIError) -> str:
    return str(getattr(error.driver_exception, "sqlstate", "") or "")


def _sqlite_locked(error: exc.DBAPIError) -> bool:
    return isinstance(error, exc.OperationalError) and "database is locked" in str(error)


def _reason(error: BaseException) -> str:
    """The driver's words (not SQLAlchemy's), first line; the type when it has none."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip()
    if isinstance(error, TimeoutError) and not text:
        return "no answer within the timeout"
    return text.splitlines()[0] if text else type(cause).__name__


_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|TABLE)\s+(\"?[\w.]+\"?)", re.IGNORECASE)


def _doing(error: BaseException) -> str:
    """What the failed statement was, as ``UPDATE work_items``; "a statement" if unknown."""
    sql = getattr(error, "statement", None)
    if not sql:
        return "a statement"
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "statement"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1).strip(chr(34))}" if table else verb


def integrity_conflict(error: BaseException) -> ConflictError | None:
    """A unique or foreign key violation as the domain's ``ConflictError``; else None.

    For callers that run a statement inside a savepoint and carry on after it fails (the
    replay of a queued write): the violation is an outcome, not a crash."""
    if isinstance(error, exc.IntegrityError):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return ConflictError(f"the change conflicts with what is stored: {reason}", reason=reason)
    return None


def is_transient(error: BaseException) -> bool:
    """Whether a failure inside a unit is about availability (timeouts, lock waits,
    deadlocks, a lost connection), so the unit should end and ``Database.run`` name it,
    rather than a failure of the unit's own (bad data, a constraint)."""
    if isinstance(error, OSError | exc.TimeoutError):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    sqlstate = _sqlstate(error)
    timed_out = sqlstate in ("55P03", "57014") or sqlstate in _RETRIED
    return timed_out or _lost(error) or _sqlite_locked(error)


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
    lock_timeout = statement_timeout * LOCK_SHARE
    command_timeout = statement_timeout + COMMAND_GRACE_SECONDS
    pool_timeout = connect_timeout + statement_timeout
    timeouts = Timeouts(
        connect_timeout, statement_timeout, lock_timeout, command_timeout, pool_timeout
    )
    engine = create_async_engine(
        url,
        json_serializer=_dumps,
        json_deserializer=loads,
        # No ping before each use (three round trips with the asyncpg dialect: BEGIN,
        # ";", ROLLBACK): a pooled connection the server dropped fails its first
        # statement, which ``Database.run`` retries on a fresh one (nothing was applied).
        pool_pre_ping=False,
        pool_size=5,
        max_overflow=10,
        pool_timeout=pool_timeout,
        execution_options={_TIMEOUTS_OPTION: timeouts},
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
            "server_settings": {
                "application_name": "worktrack",
                "statement_timeout": str(int(statement_timeout * 1000)),
                "lock_timeout": str(int(lock_timeout * 1000)),
                "idle_in_transaction_session_timeout": "60000",
                # Every statement here is short: compiling one (hundreds of ms) costs more
                # than running it, and a misestimated plan's cost would trigger it.
                "jit": "off",
            },
        },
    )
    event.listen(engine.sync_engine, "invalidate", _drop_silent_connection)
    return engine


def _drop_silent_connection(_dbapi: Any, record: Any, exception: BaseException | None) -> None:
    """A connection dropped because it gave no answer (a statement or the pool's ping past
    the command timeout) is closed at once: SQLAlchemy would wait two more seconds for a
    polite goodbye from a server that says nothing."""
    if isinstance(exception, TimeoutError):
        terminate = getattr(record.driver_connection, "terminate", None)
        if terminate is not None:
            terminate()


def _sqlite_engine(
    url: str, database: str | None, synchronous: str, foreign_keys: bool
) -> AsyncEngine:
    in_memory = not database or database == ":memory:"
    if not in_memory:
        Path(database or "").parent.mkdir(parents=True, exist_ok=True)
    # One shared connection keeps an in-memory database alive between units of work.
    pooling: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {}
    # One thread hop per statement (``sqlite_driver``), not four.
    engine = create_async_engine(
        url,
        json_serializer=_dumps,
        json_deserializer=loads,
        module=sqlite_driver.DBAPI,
        **pooling,
    )

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
        options = conn.get_execution_options()
        if options.get(_AUTOCOMMIT, False):
            return  # one statement: SQLite runs it in a transaction of its own
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("worktrack_write") else "BEGIN")

    return engine


def source_of(url: str) -> DataSource:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"
