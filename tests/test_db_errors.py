"""The database edge names every failure for what it is (docs/adr/0016-down-slow-retry.md):
down (no connection can be had), slow (the server is up but did not finish), or retried
(deadlock, serialization, a connection lost before COMMIT). Each class is produced for
real: on the local Postgres (the test run's own database), through a fault proxy, and on
a SQLite file another connection holds locked."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Database, create_engine
from worktrack.errors import SlowError, UnavailableError, operation

from conftest import _asyncpg_dsn
from faultproxy import FaultProxy

pytestmark = pytest.mark.postgres
STATEMENT_TIMEOUT = 0.5  # lock timeout 0.4 s, command timeout 1.5 s
Unit = Callable[[AsyncConnection], Awaitable[Any]]


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    made = _database(pg_url)
    try:
        yield made
    finally:
        await made.dispose()


def _database(url: str) -> Database:
    engine = create_engine(url, connect_timeout=0.5, statement_timeout=STATEMENT_TIMEOUT)
    return Database(engine, "postgresql")


async def _run(db: Database, unit: Unit, *, write: bool = False) -> Any:
    with operation("the test's call"):
        return await db.run(unit, write=write)


async def _fails(db: Database, unit: Unit, *, write: bool = False) -> UnavailableError:
    with pytest.raises(UnavailableError) as raised:
        await _run(db, unit, write=write)
    return raised.value


def _select(sql: str) -> Unit:
    return lambda conn: conn.scalar(text(sql))


# -- slow: the server is up and said why it gave up ---------------------------------------------


async def test_a_statement_past_the_statement_timeout_is_slow(db: Database) -> None:
    error = await _fails(db, _select("SELECT pg_sleep(5)"), write=True)
    assert isinstance(error, SlowError) and error.name == "UnavailableError"
    assert error.details["state"] == "slow" and error.details["cause"] == "statement_timeout"
    assert error.details["sqlstate"] == "57014"
    assert error.details["operation"] == "the test's call"
    assert error.message == (
        "postgresql is slow: in the test's call, SELECT ran past the 0.5 s statement "
        "timeout; nothing was changed, the call may be retried"
    )
    assert await _run(db, _select("SELECT 1")) == 1  # the pool is fine afterwards


async def test_a_lock_held_elsewhere_is_a_lock_timeout(db: Database, pg_url: str) -> None:
    holder = await asyncpg.connect(_asyncpg_dsn(pg_url))
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE vendors IN ACCESS EXCLUSIVE MODE")
            error = await _fails(db, _select("SELECT count(*) FROM vendors"))
    finally:
        await holder.close()
    assert isinstance(error, SlowError) and error.details["cause"] == "lock_timeout"
    assert error.details["sqlstate"] == "55P03"
    assert "SELECT vendors waited past the 0.4 s lock timeout" in error.message
    assert "nothing was changed" not in error.message  # a read changes nothing anyway


async def test_a_cancelled_statement_is_named_as_cancelled(db: Database, pg_url: str) -> None:
    async def sleep(conn: AsyncConnection) -> None:
        await conn.execute(text("SET LOCAL statement_timeout = '10s'"))
        await conn.execute(text("SELECT pg_sleep(5)"))

    admin = await asyncpg.connect(_asyncpg_dsn(pg_url))
    try:
        sleeping = asyncio.create_task(_fails(db, sleep))
        await _until_ours(admin, "wait_event = 'PgSleep'")
        await admin.execute(f"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE {_OURS}")
        error = await sleeping
    finally:
        await admin.close()
    assert isinstance(error, SlowError) and error.details["cause"] == "canceled"
    assert "due to user request" in error.message


# -- retried: nothing was applied, so the unit runs again --------------------------------------


async def _deadlock(db: Database, pg_url: str) -> tuple[Any, int]:
    """The unit locks vendors then enhancements; another session holds enhancements and then
    asks for vendors. That session waits 10 s before looking for deadlocks, so the unit's
    session (1 s) finds it and is the victim. Returns the unit's result (or error) and how
    many times it ran."""
    runs = 0
    waiting = asyncio.Event()

    async def unit(conn: AsyncConnection) -> str:
        nonlocal runs
        runs += 1
        await conn.execute(text("LOCK TABLE vendors IN ACCESS EXCLUSIVE MODE"))
        waiting.set()
        await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        await conn.execute(text("SET LOCAL statement_timeout = '10s'"))
        await conn.execute(text("LOCK TABLE enhancements IN ACCESS EXCLUSIVE MODE"))
        return "locked both"

    other = await asyncpg.connect(_asyncpg_dsn(pg_url))
    try:
        await other.execute("SET deadlock_timeout = '10s'")
        async with other.transaction():
            await other.execute("LOCK TABLE enhancements IN ACCESS EXCLUSIVE MODE")
            running = asyncio.create_task(_run(db, unit, write=True))
            await waiting.wait()
            await _until_ours(other, "wait_event_type = 'Lock'")
            await other.execute("LOCK TABLE vendors IN ACCESS EXCLUSIVE MODE")
        outcome = await asyncio.gather(running, return_exceptions=True)
    finally:
        await other.close()
    return outcome[0], runs


# worktrack's sessions in this run's own database (other runs share the server)
_OURS = "application_name = 'worktrack' AND datname = current_database()"


async def _until_ours(admin: asyncpg.Connection, condition: str) -> None:
    """Wait until one of worktrack's sessions meets ``condition`` (at most 10 s)."""
    query = f"SELECT count(*) FROM pg_stat_activity WHERE {_OURS} AND {condition}"
    async with asyncio.timeout(10):
        while True:
            await admin.execute("SELECT pg_stat_clear_snapshot()")  # fresh inside a transaction
            if await admin.fetchval(query):
                return
            await asyncio.sleep(0.02)


async def test_a_deadlock_victim_is_run_again_and_succeeds(db: Database, pg_url: str) -> None:
    result, runs = await _deadlock(db, pg_url)
    assert (result, runs) == ("locked both", 2)


async def test_a_deadlock_on_every_attempt_is_slow(db: Database, pg_url: str) -> None:
    db.attempts = 1
    error, runs = await _deadlock(db, pg_url)
    assert runs == 1
    assert isinstance(error, SlowError) and error.details["cause"] == "deadlock"
    assert error.details["sqlstate"] == "40P01"
    assert "LOCK enhancements was chosen as a deadlock victim on each of 1 attempts" in str(
        error.message
    )


async def test_a_connection_lost_before_commit_is_run_again(db: Database) -> None:
    runs = 0

    async def killed_once(conn: AsyncConnection) -> int:
        nonlocal runs
        runs += 1
        if runs == 1:
            await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return runs

    assert await _run(db, killed_once, write=True) == 2


async def test_a_connection_lost_on_every_attempt_is_down(db: Database) -> None:
    db.attempts = 2
    error = await _fails(db, _select("SELECT pg_terminate_backend(pg_backend_pid())"))
    assert not isinstance(error, SlowError)
    assert error.details["state"] == "down" and error.details["cause"] == "connection_lost"
    assert "terminating connection due to administrator command" in error.message


async def test_a_connection_lost_during_commit_leaves_the_outcome_unknown(db: Database) -> None:
    """A deferred trigger ends the session inside COMMIT: applied or not, only the
    operation id can tell, so the write is down (queued with it), never run again here."""
    runs = 0

    async def dies_at_commit(conn: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        for sql in (
            "CREATE TEMP TABLE doomed (n int)",
            "CREATE FUNCTION pg_temp.die() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$",
            "CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON doomed "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.die()",
            "INSERT INTO doomed VALUES (1)",
        ):
            await conn.execute(text(sql))

    error = await _fails(db, dies_at_commit, write=True)
    assert runs == 1
    assert error.details["state"] == "down" and error.details["cause"] == "commit_unknown"
    assert "may or may not have been applied" in error.message


# -- down: no connection can be had --------------------------------------------------------------


async def test_a_refused_connection_is_down(pg_url: str) -> None:
    nobody = _database(make_url(pg_url).set(port=_closed_port()).render_as_string(False))
    try:
        error = await _fails(nobody, _select("SELECT 1"))
    finally:
        await nobody.dispose()
    assert not isinstance(error, SlowError)
    assert error.details == {
        "layers": {"postgresql": error.details["layers"]["postgresql"]},
        "state": "down",
        "cause": "connection_refused",
        "operation": "the test's call",
    }
    assert error.message.startswith("postgresql is unreachable: ")


async def test_an_unknown_host_is_down(pg_url: str) -> None:
    nowhere = _database(make_url(pg_url).set(host="worktrack.invalid").render_as_string(False))
    try:
        error = await _fails(nowhere, _select("SELECT 1"))
    finally:
        await nowhere.dispose()
    assert error.details["state"] == "down" and error.details["cause"] == "dns"


async def test_a_server_that_never_answers_is_down(pg_url: str) -> None:
    proxy = await _proxy(pg_url, "blackhole")
    silent = _database(make_url(pg_url).set(port=proxy.port).render_as_string(False))
    try:
        error = await _fails(silent, _select("SELECT 1"))
    finally:
        await silent.dispose()
        await proxy.close()
    assert error.details["state"] == "down" and error.details["cause"] == "connect_timeout"


async def test_a_statement_with_no_answer_anywhere_is_down(pg_url: str) -> None:
    """The link goes silent mid-call: the client's command timeout passes, and a new
    connection gets no answer either, so the server is down, not slow."""
    proxy = await _proxy(pg_url, "pass")
    cut = _database(make_url(pg_url).set(port=proxy.port).render_as_string(False))

    async def cut_midway(conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT 1"))
        proxy.set_mode("blackhole")
        await conn.execute(text("SELECT 2"))

    try:
        error = await _fails(cut, cut_midway)
    finally:
        proxy.set_mode("down")
        await cut.dispose()
        await proxy.close()
    assert error.details["state"] == "down" and error.details["cause"] == "no_answer"


async def test_a_pool_that_stays_busy_is_slow(db: Database) -> None:
    holding, release = asyncio.Semaphore(0), asyncio.Event()

    async def hold(conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT 1"))
        holding.release()
        await release.wait()

    holders = [asyncio.create_task(_run(db, hold)) for _ in range(15)]  # pool 5 + overflow 10
    try:
        for _ in holders:
            await holding.acquire()
        error = await _fails(db, _select("SELECT 1"))
    finally:
        release.set()
        await asyncio.gather(*holders)
    assert isinstance(error, SlowError) and error.details["cause"] == "pool_timeout"
    assert "every pooled connection stayed busy for 1 s" in error.message


async def test_the_server_answers_a_fresh_connection(db: Database, pg_url: str) -> None:
    assert await db.answers() is True
    nobody = _database(make_url(pg_url).set(port=_closed_port()).render_as_string(False))
    try:
        assert await nobody.answers() is False
    finally:
        await nobody.dispose()


async def _proxy(pg_url: str, mode: str) -> FaultProxy:
    proxy = FaultProxy(make_url(pg_url).port or 5432)
    await proxy.start()
    proxy.set_mode(mode)
    return proxy


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


# -- SQLite: a writer that keeps the file locked -------------------------------------------------


@pytest.mark.slow
async def test_a_sqlite_file_locked_past_the_busy_timeout_is_slow(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    sqlite = Database(create_engine(f"sqlite+aiosqlite:///{path}"), "sqlite")
    sqlite.attempts = 1  # each attempt waits out the 5 s busy timeout
    await sqlite.run(lambda conn: conn.execute(text("CREATE TABLE t (n int)")), write=True)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        insert = text("INSERT INTO t VALUES (1)")
        with pytest.raises(SlowError) as raised:
            await sqlite.run(lambda conn: conn.execute(insert), write=True)
    finally:
        holder.close()
        await sqlite.dispose()
    assert raised.value.details["cause"] == "lock_timeout"
    assert "stayed locked by another writer" in raised.value.message
