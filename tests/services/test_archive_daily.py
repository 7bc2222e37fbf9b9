"""The archive runs by itself at most once a day, however many servers share the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastmcp import Client
from sqlalchemy import select

from worktrack.db import Database, create_engine
from worktrack.errors import ValidationError
from worktrack.migrations import alembic_config
from worktrack.server import create_server
from worktrack.services import archive, archive_daily, work_items
from worktrack.services.app import App
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app
from worktrack.store import archive as store
from worktrack.store import sync as sync_store
from worktrack.tables import applied_ops, idempotency_keys, maintenance_runs

from conftest import Backend, Clock
from helpers import call


async def _old_finished_task(app: App, clock: Clock, title: str = "done") -> str:
    made = await work_items.create_work_item(app, item_type="task", title=title)
    await work_items.update_work_item(app, id=made.id, version=1, status="completed")
    clock.advance(days=400)
    return made.id


async def _last_run(app: App) -> dict[str, Any]:
    row = (await app.db.run(lambda conn: conn.execute(select(maintenance_runs)))).one()
    return dict(row._mapping)


async def test_due_once_a_day(app: App, clock: Clock) -> None:
    first = await _old_finished_task(app, clock)
    ran = await archive_daily.run_if_due(app)
    assert ran is not None and ran.ids == [first]
    recorded = await _last_run(app)
    assert recorded["task"] == archive_daily.TASK
    assert recorded["last_result"]["archived_count"] == 1

    clock.advance(hours=23, minutes=59)
    assert await archive_daily.run_if_due(app) is None
    assert await _last_run(app) == recorded
    clock.advance(minutes=1)
    ran = await archive_daily.run_if_due(app)
    assert ran is not None and ran.ids == []
    assert (await _last_run(app))["last_run_at"] > recorded["last_run_at"]


async def test_of_many_processes_exactly_one_runs_it(backend: Backend, clock: Clock) -> None:
    apps = [await open_app(backend.settings(), clock) for _ in range(4)]
    try:
        await _old_finished_task(apps[0], clock)
        results = await asyncio.gather(*(archive_daily.run_if_due(app) for app in apps))
    finally:
        for app in apps:
            await close_app(app)
    ran = [result for result in results if result is not None]
    assert len(ran) == 1 and ran[0].archived_count == 1


async def test_a_running_server_archives_by_itself(backend: Backend, clock: Clock) -> None:
    opened = await open_app(backend.settings(), clock)
    try:
        old = await _old_finished_task(opened, clock)
    finally:
        await close_app(opened)
    settings = backend.settings(archive_check_seconds=0.01)
    async with Client(create_server(settings, clock=clock)) as client:
        for _ in range(500):  # waits for the background task; fails if it never runs
            found = await call(client, "query_work_item", id=old)
            if found["archived_at"] is not None:
                break
            await asyncio.sleep(0.01)
        assert found["archived_at"] is not None


async def test_zero_turns_the_daily_run_off(backend: Backend, clock: Clock) -> None:
    opened = await open_app(backend.settings(archive_check_seconds=0), clock)
    try:
        async with archive_daily.daily(opened):
            assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("worktrack-")]
    finally:
        await close_app(opened)


async def test_a_failing_run_is_logged_and_tried_again(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0003")  # no maintenance_runs
    settings = Settings(database_url=url, repo=tmp_path, archive_check_seconds=0.01)
    app = App(settings=settings, db=Database(create_engine(url), "sqlite"), clock=clock)
    try:
        async with archive_daily.daily(app):
            for _ in range(500):
                failures = [r for r in caplog.records if "daily archive run failed" in r.message]
                if len(failures) >= 2:
                    break
                await asyncio.sleep(0.01)
    finally:
        await close_app(app)
    assert len(failures) >= 2 and failures[0].exc_info is not None


async def test_what_changed_after_the_listing_stays_active(app: App, clock: Clock) -> None:
    reopened = await _old_finished_task(app, clock, "reopened")
    parent = await _old_finished_task(app, clock, "parent")
    untouched = await _old_finished_task(app, clock, "untouched")
    now = app.clock()
    cutoff = now - timedelta(days=archive.DEFAULT_DAYS)
    listed = await app.db.run(lambda conn: store.movable_ids(conn, cutoff))
    assert set(listed) == {reopened, parent, untouched}

    await work_items.update_work_item(app, id=reopened, version=2, status="active")
    await work_items.create_work_item(app, item_type="task", title="new child", parent_id=parent)
    batch = partial(archive.move_batch, listed, cutoff, now)
    assert await app.db.run(batch, write=True) == [untouched]
    found = await work_items.query_work_item(app, id=parent)
    assert found.archived_at is None and len(found.children) == 1


async def test_twin_calls_with_one_request_id_give_one_result(
    backend: Backend, clock: Clock
) -> None:
    apps = [await open_app(backend.settings(), clock) for _ in range(2)]
    try:
        for n in range(3):
            await _old_finished_task(apps[0], clock, f"old {n}")
        results = await asyncio.gather(
            *(archive.archive_work_items(app, request_id="twin") for app in apps)
        )
    finally:
        for app in apps:
            await close_app(app)
    assert results[0].ids == results[1].ids and results[0].archived_count == 3


async def test_the_service_refuses_a_negative_age(app: App) -> None:
    with pytest.raises(ValidationError) as refused:
        await archive.archive_work_items(app, older_than_days=-1)
    assert refused.value.field == "older_than_days"


async def test_the_daily_run_forgets_old_retry_keys_and_operation_ids(
    app: App, clock: Clock
) -> None:
    await work_items.create_work_item(app, item_type="task", title="old", request_id="old-key")

    async def old_op(conn: Any) -> None:
        await sync_store.record_op(conn, "op-old", "create_work_item", clock())

    await app.db.run(old_op, write=True)
    clock.advance(days=91)
    await work_items.create_work_item(app, item_type="task", title="new", request_id="new-key")
    await app.db.run(
        lambda conn: sync_store.record_op(conn, "op-new", "create_work_item", clock()),
        write=True,
    )
    ran = await archive_daily.run_if_due(app)
    assert ran is not None
    result = (await _last_run(app))["last_result"]
    assert result["idempotency_keys_pruned"] == 1
    # On Postgres every write also records its own operation id; those age out too.
    assert result["applied_ops_pruned"] == (1 if app.db.source == "sqlite" else 2)

    async def left(conn: Any) -> tuple[list[str], list[str]]:
        keys = (await conn.scalars(select(idempotency_keys.c.request_id))).all()
        ops = (await conn.scalars(select(applied_ops.c.op_id))).all()
        return list(keys), list(ops)

    keys, ops = await app.db.run(left)
    assert keys == ["new-key"] and "op-new" in ops and "op-old" not in ops
