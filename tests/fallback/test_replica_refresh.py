"""The local replica of a Postgres primary (ADR 0015): a first refresh copies every replicated
table; later ones copy what changed, deletions and archiving included, and never miss a
transaction that was still running when the previous one read; a replica older than the
changes the primary keeps is copied again; nothing overwrites rows of writes still queued.

The replica is compared with the primary table by table, row by row: it must be exactly
what the primary held when it was refreshed."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import insert, select, text

from worktrack.db import Database
from worktrack.fallback.replica import Refreshed
from worktrack.fallback.storage import Fallback
from worktrack.services import archive, dependencies, vendors, work_items
from worktrack.services.app import App
from worktrack.startup import close_app, open_app
from worktrack.store import feed
from worktrack.store import queue as queue_store
from worktrack.store import replica as replica_store
from worktrack.store.replica import REPLICATED
from worktrack.tables import write_queue

from conftest import Backend, Clock, _asyncpg_dsn

pytestmark = pytest.mark.postgres
VENDOR_META = {
    "format_support": {"excel": True, "csv": True, "pdf": False, "ocr": False},
    "test_results": {"passing": 1, "total": 1, "skipped": 0},
}


@pytest.fixture
async def app(pg_backend: Backend, clock: Clock) -> AsyncIterator[App]:
    opened = await open_app(pg_backend.settings(), clock)
    try:
        yield opened.acting_as("tester")
    finally:
        await close_app(opened)


def _fallback(app: App) -> Fallback:
    assert isinstance(app.storage, Fallback)
    return app.storage


async def _refresh(app: App) -> Refreshed:
    return await _fallback(app).replica.refresh(wait=30)


async def _tables(db: Database) -> dict[str, list[dict[str, Any]]]:
    async def read(conn: Any) -> dict[str, list[dict[str, Any]]]:
        found = {}
        for table in REPLICATED:
            ordered = select(table).order_by(*table.primary_key.columns)
            found[table.name] = [dict(row._mapping) for row in await conn.execute(ordered)]
        return found

    return await db.run(read)


async def _assert_replica_is_the_primary(app: App) -> None:
    fallback = _fallback(app)
    primary, replica = await _tables(fallback.primary.db), await _tables(fallback.cache.db)
    for name in primary:
        assert replica[name] == primary[name], name


async def _title(app: App, item_id: str) -> Any:
    """The item's title in the replica."""
    query = text("SELECT title FROM work_items WHERE id = :id")
    return await _fallback(app).cache.db.run(lambda conn: conn.scalar(query, {"id": item_id}))


async def _project(app: App, title: str = "Project") -> Any:
    return await work_items.create_work_item(app, item_type="project", title=title, description="d")


async def _populate(app: App) -> list[Any]:
    root = await _project(app)
    tasks = [
        await work_items.create_work_item(app, item_type="task", title=f"t{n}", parent_id=root.id)
        for n in range(4)
    ]
    await dependencies.add_dependency(
        app, source_id=tasks[0].id, target_id=tasks[1].id, dependency_type="blocks"
    )
    await vendors.create_vendor(app, name="acme", extractor_version="1", metadata=VENDOR_META)
    return tasks


async def test_a_first_refresh_copies_every_replicated_table(app: App) -> None:
    await _populate(app)
    done = await _refresh(app)
    assert done.kind == "copy" and done.rows > 0
    await _assert_replica_is_the_primary(app)
    again = await _refresh(app)
    assert (again.kind, again.keys, again.rows) == ("changes", 0, 0)  # nothing changed


async def test_changes_deletions_and_archiving_reach_the_replica(
    app: App, clock: Clock, pg_backend: Backend
) -> None:
    tasks = await _populate(app)
    await _refresh(app)
    await work_items.update_work_item(app, id=tasks[2].id, version=1, title="renamed")
    await dependencies.remove_dependency(
        app, source_id=tasks[0].id, target_id=tasks[1].id, dependency_type="blocks"
    )
    done = await work_items.update_work_item(app, id=tasks[3].id, version=1, status="completed")
    clock.advance(days=2)
    archived = await archive.archive_work_items(app, older_than_days=1)
    assert archived.ids == [done.id]
    # A bulk statement by another client, outside worktrack's services.
    conn = await asyncpg.connect(_asyncpg_dsn(pg_backend.url))
    try:
        await conn.execute("DELETE FROM vendors")
    finally:
        await conn.close()
    refreshed = await _refresh(app)
    assert refreshed.kind == "changes"
    await _assert_replica_is_the_primary(app)


async def test_a_transaction_still_running_at_a_refresh_is_read_by_the_next(
    app: App, pg_backend: Backend
) -> None:
    """The watermark is the snapshot's xmin, not the newest change seen: a transaction
    that started before the refresh and commits after it has a smaller id than changes the
    refresh did see, and is still read next time."""
    tasks = await _populate(app)
    await _refresh(app)
    late = await asyncpg.connect(_asyncpg_dsn(pg_backend.url))
    try:
        transaction = late.transaction()
        await transaction.start()
        await late.execute("UPDATE work_items SET title = 'late' WHERE id = $1", tasks[0].id)
        late_txid = int(await late.fetchval("SELECT pg_current_xact_id()::text::bigint"))
        seen = await work_items.update_work_item(app, id=tasks[1].id, version=1, title="seen")
        first = await _refresh(app)
        assert first.keys >= 1
        newest_seen = int(
            await late.fetchval("SELECT max(txid) FROM replica_changes WHERE row_key = $1", seen.id)
        )
        assert late_txid < newest_seen  # "changes after the newest seen" would skip it
        await transaction.commit()
    finally:
        await late.close()
    await _refresh(app)
    await _assert_replica_is_the_primary(app)
    assert await _title(app, tasks[0].id) == "late"


async def test_a_long_transaction_elsewhere_does_not_make_refreshes_read_again(
    app: App, pg_backend: Backend
) -> None:
    """It holds the snapshots' xmin back; changes a refresh saw are still not read again."""
    tasks = await _populate(app)
    await _refresh(app)
    long = await asyncpg.connect(_asyncpg_dsn(pg_backend.url))
    try:
        transaction = long.transaction()
        await transaction.start()
        await long.execute("SELECT pg_current_xact_id()")  # it holds an id from now on
        for n, item in enumerate(tasks[:2]):
            await work_items.update_work_item(app, id=item.id, version=1, title=f"a{n}")
        first = await _refresh(app)
        await work_items.update_work_item(app, id=tasks[2].id, version=1, title="b")
        second = await _refresh(app)
        await transaction.rollback()
    finally:
        await long.close()
    assert (first.keys, second.keys) == (4, 2)  # each item and its history row, once
    await _assert_replica_is_the_primary(app)


async def test_a_replica_older_than_the_kept_changes_is_copied_again(
    app: App, pg_backend: Backend
) -> None:
    tasks = await _populate(app)
    await _refresh(app)
    await work_items.update_work_item(app, id=tasks[0].id, version=1, title="kept")
    primary = _fallback(app).primary
    assert await primary.run(lambda conn: feed.prune(conn, timedelta(days=1)), write=True) == 0
    kept = await _refresh(app)
    assert (kept.kind, kept.keys) == ("changes", 2)  # nothing recent is forgotten
    await work_items.update_work_item(app, id=tasks[0].id, version=2, title="pruned away")
    watermark = await _watermark(app)
    await primary.run(lambda conn: feed.prune(conn, timedelta(0)), write=True)
    horizon, oldest_kept = await primary.run(_horizon_and_oldest)
    assert oldest_kept is None or oldest_kept >= horizon  # what went lies below the horizon
    again = await _refresh(app)
    # A transaction open elsewhere on the server may keep the pruning below the watermark:
    # then the changes kept still suffice. Either way the replica is the primary.
    assert again.kind == ("copy" if watermark < horizon else "changes")
    await _assert_replica_is_the_primary(app)
    await work_items.update_work_item(app, id=tasks[0].id, version=3, title="past the horizon")
    past = await _watermark(app) + 1
    await primary.run(
        lambda conn: conn.execute(text(f"UPDATE replica_horizon SET pruned_below = {past}")),
        write=True,
    )
    assert (await _refresh(app)).kind == "copy"  # its changes may be gone: copied whole
    await _assert_replica_is_the_primary(app)
    conn = await asyncpg.connect(_asyncpg_dsn(pg_backend.url))
    try:
        await conn.execute("TRUNCATE work_item_dependencies, vendors CASCADE")
    finally:
        await conn.close()
    after_truncate = await _refresh(app)
    assert after_truncate.kind == "copy"  # a TRUNCATE names no rows
    await _assert_replica_is_the_primary(app)


async def _watermark(app: App) -> int:
    state = await _fallback(app).cache.db.run(replica_store.state)
    assert state is not None
    return state.watermark


async def _horizon_and_oldest(conn: Any) -> tuple[int, int | None]:
    horizon = await conn.scalar(text("SELECT pruned_below FROM replica_horizon"))
    oldest = await conn.scalar(text("SELECT min(txid) FROM replica_changes"))
    return int(horizon or 0), oldest


async def _queue_row(app: App, op_id: str, entity_id: str | None) -> None:
    """A pending row in the shared queue, as a queued write (of any process) leaves."""
    values = {
        "op_id": op_id,
        "tool": "update_work_item",
        "args": {},
        "fingerprint": "f" * 64,
        "entity": "work_item",
        "entity_id": entity_id,
        "base_version": 1,
        "queued_at": app.clock(),
        "queued_by": "tester",
        "state": "pending",
        "attempts": 0,
    }
    await _fallback(app).cache.queue_db.run(
        lambda conn: conn.execute(insert(write_queue).values(**values)), write=True
    )


async def test_rows_of_queued_writes_are_not_refreshed_before_their_replay(app: App) -> None:
    tasks = await _populate(app)
    await _refresh(app)
    await work_items.update_work_item(app, id=tasks[0].id, version=1, title="on the primary")
    await _queue_row(app, "op-1", tasks[0].id)
    skipped = await _refresh(app)
    assert skipped.kind == "skipped" and "wait for their replay" in (skipped.reason or "")
    assert await _title(app, tasks[0].id) == "t0"


async def test_the_queue_watch_sees_a_write_any_connection_queues(app: App) -> None:
    watch = await queue_store.Watch.open(app.settings.cache_path)
    try:
        assert await watch.pending() is False
        await _queue_row(app, "op-2", None)
        assert await watch.pending() is True
        await _fallback(app).cache.queue_db.run(
            lambda conn: conn.execute(write_queue.delete()), write=True
        )
        assert await watch.pending() is False
    finally:
        await watch.close()


def _migration(name: str) -> Any:
    path = Path(__file__).resolve().parents[2] / "alembic" / "versions" / name
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _migrated_tables() -> dict[str, str]:
    """The replicated tables the migrations give triggers to: 0006's, then 0007's notes."""
    return _migration("0006_replica.py").REPLICATED | _migration("0007_work_model.py").NOTE_TABLES


async def test_every_replicated_table_has_its_triggers(app: App) -> None:
    """One list in the code, one in the migration: they must name the same tables and keys."""
    keys = {t.name: ", ".join(c.name for c in t.primary_key.columns) for t in REPLICATED}
    assert keys == _migrated_tables()
    query = text(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE t.tgname LIKE 'replica_%'"
    )

    async def read(conn: Any) -> list[Any]:
        return list(await conn.execute(query))

    found = await _fallback(app).primary.run(read)
    triggers: dict[str, set[str]] = {}
    for table, name in found:
        triggers.setdefault(table, set()).add(name)
    events = {"replica_insert", "replica_update", "replica_delete", "replica_truncate"}
    assert triggers == dict.fromkeys(keys, events)
