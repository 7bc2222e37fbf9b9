"""Migrations: from empty to head and back on both databases, with no drift from the models."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.engine import make_url

from worktrack.db import create_engine
from worktrack.migrations import alembic_config, head_revision
from worktrack.tables import metadata

from conftest import ADMIN_URL, _admin


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"worktrack_migrate_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect(url: str, fn: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _drift(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_matches_the_models_and_downgrades_to_base(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "head")
    assert _inspect(empty_url, _drift) == []
    assert _inspect(empty_url, _tables) == set(metadata.tables)
    command.downgrade(config, "base")
    assert _inspect(empty_url, _tables) == set()


def test_every_migration_steps_down_and_up_again(empty_url: str) -> None:
    config = alembic_config(empty_url)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions("base", "heads"))
    assert revisions[0].revision == head_revision()
    command.upgrade(config, "head")
    for _ in revisions:
        command.downgrade(config, "-1")
    assert _inspect(empty_url, _tables) == set()
    for script in reversed(revisions):
        command.upgrade(config, script.revision)
    assert _inspect(empty_url, _drift) == []
