"""Bulk work runs with a statement timeout of its own, and writes a chunk of rows per
statement: nothing sized by the data is one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.engine import Engine

from worktrack import bulk
from worktrack.errors import UnavailableError
from worktrack.legacy.sample import write_sample
from worktrack.services import archive, legacy_import
from worktrack.startup import close_app, open_app
from worktrack.store.bulk import CHUNK_ROWS

from conftest import Backend

ITEMS = 2_500  # three chunks


@contextmanager
def inserts_into(table: str) -> Iterator[list[int]]:
    """How many rows each INSERT into ``table`` carried, on any engine (bulk work runs on
    an engine of its own)."""
    sizes: list[int] = []

    def seen(_c: Any, _cur: Any, statement: str, parameters: Any, _x: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            sizes.append(len(parameters) if many else 1)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield sizes
    finally:
        event.remove(Engine, "before_cursor_execute", seen)


async def test_a_large_legacy_import_writes_a_chunk_of_items_per_statement(
    backend: Backend, tmp_path: Path
) -> None:
    where = tmp_path / "legacy"
    sample = write_sample(where, vendors=3, work_items=ITEMS, deployments=2, prompts=0)
    app = await open_app(backend.settings())
    steps: list[tuple[int, int | None, str]] = []

    async def watch(done: int, total: int | None, step: str) -> None:
        steps.append((done, total, step))

    try:
        with inserts_into("work_items") as sizes:
            done = await legacy_import.import_legacy(
                app.acting_as("import-legacy"), path=sample.status_file, progress=watch
            )
    finally:
        await close_app(app)
    assert done.success, done.errors
    assert sizes == [CHUNK_ROWS, CHUNK_ROWS, ITEMS - 2 * CHUNK_ROWS]
    total = 3 + ITEMS + 2 + sample.enhancements
    assert steps[-1] == (total, total, "enhancements")
    assert [n for n, _, step in steps if step == "work items"] == [1003, 2003, 2503]


async def test_archiving_a_backlog_moves_it_batch_by_batch(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = datetime(2024, 6, 1, tzinfo=UTC)
    sample = write_sample(
        tmp_path / "old", vendors=0, work_items=300, completed_share=1.0, generated_at=old,
        deployments=0, prompts=0, enhancements=0,
    )  # fmt: skip
    monkeypatch.setattr(archive, "BATCH_SIZE", 120)
    app = await open_app(backend.settings())
    try:
        await legacy_import.import_legacy(app.acting_as("import-legacy"), path=sample.status_file)
        with inserts_into("work_items_archive") as moves:
            done = await archive.archive_work_items(app, older_than_days=30)
    finally:
        await close_app(app)
    assert done.archived_count == 300 and len(moves) == 3  # 120 + 120 + 60, one INSERT each


@pytest.mark.postgres
async def test_bulk_statements_have_their_own_longer_timeout(pg_backend: Backend) -> None:
    settings = pg_backend.settings(statement_timeout_seconds=0.2, bulk_statement_timeout_seconds=30)
    app = await open_app(settings)
    sleep = text("SELECT pg_sleep(0.6)")
    try:
        with pytest.raises((UnavailableError, exc.DBAPIError)):  # the interactive limit
            await app.db.run(lambda conn: conn.execute(sleep))
        async with bulk.database(settings, app.db) as db:
            assert db is not app.db
            await db.run(lambda conn: conn.execute(sleep))  # well inside the bulk limit
        short = settings.model_copy(update={"bulk_statement_timeout_seconds": 0.2})
        async with bulk.database(short, app.db) as db:
            with pytest.raises((UnavailableError, exc.DBAPIError)):
                await db.run(lambda conn: conn.execute(sleep))
    finally:
        await close_app(app)


async def test_sqlite_bulk_work_runs_on_the_app_s_own_database(backend: Backend) -> None:
    app = await open_app(backend.settings())
    try:
        async with bulk.database(app.settings, app.db) as db:
            assert (db is app.db) == (backend.name == "sqlite")
            assert db.source == app.db.source
    finally:
        await close_app(app)
