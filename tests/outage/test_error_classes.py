"""Each class of failure on a real Postgres, as a client meets it (docs/adr/0016): what the
caller sees, what get_system_health says, and that no write was queued by mistake.

- down (the proxy cut): reads fall back, writes queue; health says down.
- slow (a statement past statement_timeout, a lock held past lock_timeout, a backend that
  stops answering while the server answers others): the write fails with an
  UnavailableError whose details say ``state: "slow"``, the cause and the operation; reads
  are answered locally saying the primary is slow; nothing is queued; health says slow.
- retried (a deadlock, a connection killed mid-call): the caller sees the call succeed.

The slow statements are real: a trigger sleeps (``pg_sleep``) for chosen titles."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from fastmcp import Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import SlowError, operation
from worktrack.models.work_items import WorkItemDetail
from worktrack.services import sync, work_items
from worktrack.startup import close_app, open_app

from conftest import OUTAGE_DB, Outage
from helpers import call, fail, project, task

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Titles that make a statement slow, stop its backend's clock, or fail it outright.
TRAP = """
CREATE FUNCTION trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.title LIKE 'slow%' THEN PERFORM pg_sleep(30); END IF;
  IF NEW.title LIKE 'freeze%' THEN PERFORM pg_sleep(1); END IF;
  IF NEW.title LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned write: %', NEW.title; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER trap BEFORE INSERT OR UPDATE ON work_items
  FOR EACH ROW EXECUTE FUNCTION trap();
"""
UNTRAP = "DROP TRIGGER IF EXISTS trap ON work_items; DROP FUNCTION IF EXISTS trap();"
OURS = "application_name = 'worktrack' AND datname = current_database()"


@pytest.fixture
def trap(outage: Outage) -> Iterator[None]:
    outage.sql(UNTRAP)
    outage.sql(TRAP)
    try:
        yield
    finally:
        outage.sql(UNTRAP)


@asynccontextmanager
async def session(outage: Outage) -> AsyncIterator[asyncpg.Connection]:
    """Another client of the cluster (straight to it, never through the proxy)."""
    conn = await asyncpg.connect(
        host="127.0.0.1", port=outage.cluster.port, user="postgres", database=OUTAGE_DB
    )
    try:
        yield conn
    finally:
        await conn.close()


async def _backend(admin: asyncpg.Connection, condition: str) -> int:
    """The pid of worktrack's session that meets ``condition``, once one does (≤ 10 s)."""
    async with asyncio.timeout(10):
        while True:
            await admin.execute("SELECT pg_stat_clear_snapshot()")  # fresh inside a transaction
            pid = await admin.fetchval(
                f"SELECT pid FROM pg_stat_activity WHERE {OURS} AND {condition} LIMIT 1"
            )
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.02)


def _stored(outage: Outage, item: dict[str, Any]) -> str:
    return outage.sql(f"SELECT title || '|' || version FROM work_items WHERE id = '{item['id']}'")


async def _health(client: Client[Any]) -> dict[str, Any]:
    return await call(client, "get_system_health")


# -- down --------------------------------------------------------------------------------------


async def test_down_reads_fall_back_and_writes_queue(outage: Outage) -> None:
    async with Client(outage.server()) as client:
        root = await project(client, "Down")
        await outage.refresh()
        outage.proxy.set_mode("down")
        read = await call(client, "query_work_item", id=root["id"])
        assert read["data_source"] == "sqlite_cache"
        assert read["warnings"][0].startswith(
            "postgresql is unavailable (postgresql is unreachable"
        )
        health = await _health(client)
        assert health["primary"]["state"] == "down" and health["primary"]["healthy"] is False
        assert "unreachable" in health["primary"]["error"]
        assert health["queued_writes"] == 0  # a read queues nothing
        nowhere = await fail(client, "query_work_item", id="00000000-0000-4000-8000-000000000000")
        assert nowhere["error"] == "UnavailableError" and nowhere["details"]["state"] == "down"
        assert "unreachable" in nowhere["details"]["layers"]["postgresql"]
        written = await call(client, "update_work_item", id=root["id"], version=1, title="later")
        assert written["queued"] is True  # down is the one class that queues writes
        assert (await _health(client))["queued_writes"] == 1
        outage.proxy.set_mode("pass")
        assert (await call(client, "query_work_item", id=root["id"]))["title"] == "later"
        health = await _health(client)
        assert (health["primary"]["state"], health["queued_writes"]) == ("up", 0)


# -- slow: a statement past the statement timeout ----------------------------------------------


async def test_a_slow_statement_fails_the_write_and_queues_nothing(
    outage: Outage, trap: None
) -> None:
    async with Client(outage.server()) as client:
        item = await project(client, "Quick")
        error = await fail(client, "update_work_item", id=item["id"], version=1, title="slow one")
        assert error["error"] == "UnavailableError"
        details = error["details"]
        assert (details["state"], details["cause"]) == ("slow", "statement_timeout")
        assert details["operation"] == "update_work_item" and details["sqlstate"] == "57014"
        assert details["statement"] == "UPDATE work_items"
        assert error["message"] == (
            "postgresql is slow: in update_work_item, UPDATE work_items ran past the 2 s "
            "statement timeout; nothing was changed, the call may be retried"
        )
        health = await _health(client)
        assert health["primary"]["state"] == "slow" and health["primary"]["healthy"] is True
        assert health["primary"]["error"] == error["message"]
        assert health["warnings"] == [error["message"]]
        assert (health["serving_layer"], health["queued_writes"]) == ("postgresql", 0)
        assert _stored(outage, item) == "Quick|1"  # nothing changed
        # The primary stays in use: the next write goes straight to it.
        done = await call(client, "update_work_item", id=item["id"], version=1, title="fast")
        assert (done["data_source"], done["queued"], done["version"]) == ("postgresql", False, 2)


async def test_a_slow_read_is_answered_locally_saying_the_primary_is_slow(outage: Outage) -> None:
    app = await open_app(outage.settings(), outage.clock)
    try:
        made = await work_items.create_work_item(
            app, item_type="project", title="Read me", description="the project"
        )
        await outage.refresh()

        async def slow_on_postgres(conn: AsyncConnection) -> WorkItemDetail:
            if conn.dialect.name == "postgresql":  # the local cache answers at once
                await conn.execute(text("SELECT pg_sleep(30)"))
            query = work_items.query_work_item.__wrapped__  # type: ignore[attr-defined]
            found: WorkItemDetail = await query(app, conn, id=made.id)
            return found

        with operation("query_work_item"):
            answer = await app.read(slow_on_postgres)
        assert (answer.data_source, answer.title) == ("sqlite_cache", "Read me")
        assert answer.warnings[0] == (
            "postgresql is slow (in query_work_item, SELECT ran past the 2 s statement timeout)"
        )
        health = await sync.get_system_health(app)
        assert (health.primary.state, health.primary.healthy) == ("slow", True)
        assert health.queued_writes == 0
    finally:
        await close_app(app)


# -- slow: a lock held by another session --------------------------------------------------------


async def test_a_row_locked_elsewhere_fails_the_write_after_the_lock_timeout(
    outage: Outage,
) -> None:
    async with Client(outage.server()) as client, session(outage) as other:
        item = await project(client, "Locked")
        async with other.transaction():
            await other.execute("SELECT 1 FROM work_items WHERE id = $1 FOR UPDATE", item["id"])
            error = await fail(client, "update_work_item", id=item["id"], version=1, title="t")
        details = error["details"]
        assert (details["state"], details["cause"]) == ("slow", "lock_timeout")
        assert details["sqlstate"] == "55P03" and details["operation"] == "update_work_item"
        assert "waited past the 1.6 s lock timeout for a lock" in error["message"]
        health = await _health(client)
        assert (health["primary"]["state"], health["queued_writes"]) == ("slow", 0)
        assert _stored(outage, item) == "Locked|1"


async def test_a_table_locked_elsewhere_is_read_from_the_cache(outage: Outage) -> None:
    async with Client(outage.server()) as client, session(outage) as other:
        item = await project(client, "Behind a lock")
        await outage.refresh()
        async with other.transaction():
            await other.execute("LOCK TABLE work_items IN ACCESS EXCLUSIVE MODE")
            read = await call(client, "query_work_item", id=item["id"])
            health = await _health(client)
        assert (read["data_source"], read["title"]) == ("sqlite_cache", "Behind a lock")
        assert read["warnings"][0].startswith(
            "postgresql is slow (in query_work_item, SELECT work_items waited past the 1.6 s "
            "lock timeout for a lock)"
        )
        assert (health["primary"]["state"], health["queued_writes"]) == ("slow", 0)
        assert "lock timeout" in health["primary"]["error"]


# -- slow: the client's own timeout, while the server answers others ----------------------------


async def test_a_backend_that_stops_answering_is_slow_not_down(outage: Outage, trap: None) -> None:
    """The session's backend is stopped mid-statement (SIGSTOP), so the server cannot even
    cancel it: the client's command timeout (3 s here) passes, a fresh connection is
    answered, so the primary is slow, not down, and the write is not queued."""
    async with Client(outage.server()) as client, session(outage) as admin:
        item = await project(client, "Frozen")
        updating = asyncio.create_task(
            fail(client, "update_work_item", id=item["id"], version=1, title="freeze me")
        )
        pid = await _backend(admin, "wait_event = 'PgSleep'")
        os.kill(pid, signal.SIGSTOP)
        try:
            error = await updating
        finally:
            os.kill(pid, signal.SIGCONT)
        details = error["details"]
        assert (details["state"], details["cause"]) == ("slow", "command_timeout")
        assert (
            "got no answer within the 3 s command timeout, though the server answers"
            in (error["message"])
        )
        health = await _health(client)
        assert (health["primary"]["state"], health["queued_writes"]) == ("slow", 0)
        await admin.execute(f"SELECT pg_terminate_backend({pid})")
        assert _stored(outage, item) == "Frozen|1"


# -- retried: a deadlock victim, a killed connection --------------------------------------------


async def test_a_deadlock_victim_is_retried_and_the_caller_sees_success(outage: Outage) -> None:
    """update_work_item records its op id (a lock on applied_ops), then waits for the row
    another session holds; that session then asks for applied_ops: a real deadlock. The
    other session looks for deadlocks after 10 s, worktrack's after 1 s, so worktrack's
    transaction is the victim, and its retry succeeds."""
    async with Client(outage.server()) as client, session(outage) as other:
        item = await project(client, "Deadlocked")
        before = int(outage.sql(_DEADLOCKS))
        await other.execute("SET deadlock_timeout = '10s'")
        async with other.transaction():
            await other.execute("SELECT 1 FROM work_items WHERE id = $1 FOR UPDATE", item["id"])
            updating = asyncio.create_task(
                call(client, "update_work_item", id=item["id"], version=1, title="through")
            )
            await _backend(other, "wait_event_type = 'Lock'")
            await other.execute("LOCK TABLE applied_ops IN SHARE MODE")  # closes the cycle
        updated = await updating
        assert (updated["data_source"], updated["queued"]) == ("postgresql", False)
        assert (updated["title"], updated["version"]) == ("through", 2)
        await _until(lambda: int(outage.sql(_DEADLOCKS)) == before + 1)  # it did happen
        health = await _health(client)
        assert (health["primary"]["state"], health["queued_writes"]) == ("up", 0)


_DEADLOCKS = f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{OUTAGE_DB}'"


async def _until(condition: Any) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.1)


async def test_a_deadlock_on_every_attempt_is_slow(outage: Outage) -> None:
    app = await open_app(outage.settings(), outage.clock)
    try:
        app.db.attempts = 1  # no second chance: the deadlock is what the caller meets
        made = await work_items.create_work_item(
            app, item_type="project", title="Victim", description="the project"
        )
        async with session(outage) as other:
            await other.execute("SET deadlock_timeout = '10s'")
            async with other.transaction():
                await other.execute("SELECT 1 FROM work_items WHERE id = $1 FOR UPDATE", made.id)
                with operation("update_work_item"):
                    updating = asyncio.create_task(
                        work_items.update_work_item(app, id=made.id, version=1, title="never")
                    )
                await _backend(other, "wait_event_type = 'Lock'")
                await other.execute("LOCK TABLE applied_ops IN SHARE MODE")
            with pytest.raises(SlowError) as raised:
                await updating
        assert raised.value.name == "UnavailableError"
        assert raised.value.details["cause"] == "deadlock"
        assert "in update_work_item, UPDATE work_items was chosen as a deadlock victim" in (
            raised.value.message
        )
        health = await sync.get_system_health(app)
        assert (health.primary.state, health.queued_writes) == ("slow", 0)
    finally:
        await close_app(app)


async def test_a_connection_killed_mid_call_is_retried_and_succeeds(outage: Outage) -> None:
    async with Client(outage.server()) as client, session(outage) as other:
        item = await project(client, "Killed")
        async with other.transaction():
            await other.execute("SELECT 1 FROM work_items WHERE id = $1 FOR UPDATE", item["id"])
            updating = asyncio.create_task(
                call(client, "update_work_item", id=item["id"], version=1, title="survived")
            )
            pid = await _backend(other, "wait_event_type = 'Lock'")
            await other.execute(f"SELECT pg_terminate_backend({pid})")
            await _backend(other, f"wait_event_type = 'Lock' AND pid <> {pid}")  # the retry
        updated = await updating  # the lock is released: the retry goes through
        assert (updated["data_source"], updated["queued"]) == ("postgresql", False)
        assert (updated["title"], updated["version"]) == ("survived", 2)
        health = await _health(client)
        assert (health["primary"]["state"], health["queued_writes"]) == ("up", 0)


# -- replay: a poisoned queued write does not wedge the queue ------------------------------------


async def _queue_four(client: Client[Any], outage: Outage, poisoned: str) -> dict[str, Any]:
    """Four tasks seen online, then offline: an update of each (the second one's title is
    ``poisoned``) and one create. Five queued writes."""
    root = await project(client, "Queue")
    items = [await task(client, f"t{n}", root) for n in range(4)]
    await outage.refresh()
    outage.proxy.set_mode("down")
    for n, item in enumerate(items):
        title = poisoned if n == 1 else f"offline {n}"
        queued = await call(client, "update_work_item", id=item["id"], version=1, title=title)
        assert queued["queued"] is True
    made = await call(
        client, "create_work_item", item_type="task", title="new", parent_id=root["id"]
    )
    assert made["queued"] is True and (await _health(client))["queued_writes"] == 5
    return {"root": root, "items": items, "made": made}


async def test_a_queued_write_failing_on_replay_is_a_conflict_and_the_rest_replays(
    outage: Outage, trap: None
) -> None:
    async with Client(outage.server()) as client:
        queued = await _queue_four(client, outage, poisoned="poison pill")
        items = queued["items"]
        outage.proxy.set_mode("pass")
        listed = await call(client, "list_work_items", parent_id=queued["root"]["id"])
        assert listed["data_source"] == "postgresql"  # replayed first, then served
        conflicts = (await call(client, "list_sync_conflicts"))["items"]
        assert [c["entity_id"] for c in conflicts] == [items[1]["id"]]
        reason = conflicts[0]["reason"]
        assert reason["error"] == "InternalError"
        assert "poisoned write: poison pill" in reason["message"]
        assert reason["details"]["sqlstate"] == "P0001"
        assert conflicts[0]["attempted_change"]["title"] == "poison pill"
        assert [_stored(outage, item) for item in items] == [
            "offline 0|2",
            "t1|1",
            "offline 2|2",
            "offline 3|2",
        ]
        assert outage.sql(f"SELECT title FROM work_items WHERE id = '{queued['made']['id']}'") == (
            "new"
        )
        health = await _health(client)
        assert (health["queued_writes"], health["sync_conflicts"]) == (0, 1)
        assert health["primary"]["state"] == "up"
        print("\npoisoned queue: 4 of 5 queued writes applied, the poisoned one a listed conflict")


async def test_a_queued_write_that_keeps_timing_out_is_backed_off_then_set_aside(
    outage: Outage, trap: None
) -> None:
    """Its replay times out; reads are answered locally and new writes queue meanwhile
    (neither waits for it nor overtakes it); after the third attempt it is a conflict
    carrying the timeout, and the rest replays in order."""
    async with Client(outage.server()) as client:
        queued = await _queue_four(client, outage, poisoned="slow to apply")
        items = queued["items"]
        outage.proxy.set_mode("pass")
        first = await call(client, "query_work_item", id=items[0]["id"])  # attempt 1
        assert _stored(outage, items[0]) == "offline 0|2"  # the call before it applied
        assert first["data_source"] == "sqlite_cache"
        assert first["warnings"][0].startswith(
            "postgresql is slow (queued writes wait for a replay that stopped (in replay of "
            "update_work_item, UPDATE work_items ran past the 2 s statement timeout"
        )
        health = await _health(client)
        assert (health["primary"]["state"], health["queued_writes"]) == ("slow", 4)
        assert health["serving_layer"] == "sqlite_cache"
        assert "queued writes wait for their replay" in health["warnings"][-1]
        held = await call(  # attempt 2; the new write queues behind the others
            client, "update_work_item", id=items[3]["id"], version=2, title="while held"
        )
        assert held["queued"] is True and held["warnings"][0].startswith("postgresql is slow")
        after = await call(client, "query_work_item", id=items[3]["id"])  # attempt 3
        assert (after["data_source"], after["title"], after["version"]) == (
            "postgresql",
            "while held",
            3,
        )
        conflicts = (await call(client, "list_sync_conflicts"))["items"]
        assert [c["entity_id"] for c in conflicts] == [items[1]["id"]]
        reason = conflicts[0]["reason"]
        assert reason["error"] == "UnavailableError"
        assert (reason["details"]["state"], reason["details"]["cause"]) == (
            "slow",
            "statement_timeout",
        )
        assert reason["details"]["operation"] == "replay of update_work_item"
        assert [_stored(outage, item) for item in items] == [
            "offline 0|2",
            "t1|1",
            "offline 2|2",
            "while held|3",
        ]
        health = await _health(client)
        assert (health["queued_writes"], health["sync_conflicts"]) == (0, 1)


async def test_a_connection_lost_mid_replay_is_retried(outage: Outage) -> None:
    async with Client(outage.server()) as client, session(outage) as other:
        item = await project(client, "Replayed")
        await outage.refresh()
        outage.proxy.set_mode("down")
        await call(client, "update_work_item", id=item["id"], version=1, title="queued")
        outage.proxy.set_mode("pass")
        async with other.transaction():
            await other.execute("SELECT 1 FROM work_items WHERE id = $1 FOR UPDATE", item["id"])
            reading = asyncio.create_task(call(client, "query_work_item", id=item["id"]))
            pid = await _backend(other, "wait_event_type = 'Lock'")  # the replay waits
            await other.execute(f"SELECT pg_terminate_backend({pid})")
            await _backend(other, f"wait_event_type = 'Lock' AND pid <> {pid}")
        read = await reading
        assert (read["data_source"], read["title"], read["version"]) == ("postgresql", "queued", 2)
        assert (await call(client, "list_sync_conflicts"))["items"] == []
        health = await _health(client)
        assert (health["queued_writes"], health["primary"]["state"]) == (0, "up")


async def test_a_queued_call_that_cannot_be_read_back_is_a_conflict(outage: Outage) -> None:
    """A queue row another version of worktrack stored (here: a version that is no number)
    is set aside with the reason; it does not stop the replay."""
    async with Client(outage.server()) as client:
        item = await project(client, "Old queue")
        await outage.refresh()
        outage.proxy.set_mode("down")
        await call(client, "update_work_item", id=item["id"], version=1, title="unreadable")
        await call(client, "update_work_item", id=item["id"], version=2, title="after it")
        with sqlite3.connect(outage.home / "cache.db") as cache:
            cache.execute(
                "UPDATE write_queue SET args = json_set(args, '$.version', 'one') "
                "WHERE json_extract(args, '$.title') = 'unreadable'"
            )
        outage.proxy.set_mode("pass")
        await call(client, "list_work_items")
        conflicts = (await call(client, "list_sync_conflicts"))["items"]
        assert [c["reason"]["error"] for c in conflicts] == ["InternalError", "ChainedConflict"]
        assert conflicts[0]["reason"]["message"].startswith(
            "the queued update_work_item call could not be read back: "
        )
        assert _stored(outage, item) == "Old queue|1"
        assert (await _health(client))["queued_writes"] == 0
