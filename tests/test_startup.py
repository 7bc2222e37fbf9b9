"""Starting up: the embedded default migrates itself; Postgres must already be at head."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import make_url

from worktrack.migrations import SchemaError, alembic_config, head_revision
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app

from conftest import ADMIN_URL, _admin

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


@pytest.fixture
def empty_pg() -> Iterator[str]:
    name = f"worktrack_start_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_embedded_default_creates_and_migrates_its_file(tmp_path: Path) -> None:
    app = await open_app(Settings(home=tmp_path / "state", repo=tmp_path))
    try:
        assert app.db.source == "sqlite"
        assert (tmp_path / "state" / "worktrack.db").is_file()
    finally:
        await close_app(app)


@pytest.mark.postgres
async def test_unmigrated_postgres_is_refused(empty_pg: str, tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as refused:
        await open_app(Settings(database_url=empty_pg, home=tmp_path, repo=tmp_path))
    assert "not migrated" in refused.value.message
    assert "alembic upgrade head" in refused.value.message


@pytest.mark.postgres
async def test_older_postgres_schema_is_refused(empty_pg: str, tmp_path: Path) -> None:
    config = alembic_config(empty_pg)
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.stamp, config, "base")  # as if before the first migration
    with pytest.raises(SchemaError) as refused:
        await open_app(Settings(database_url=empty_pg, home=tmp_path, repo=tmp_path))
    assert refused.value.details["head"] == head_revision()


@pytest.mark.postgres
def test_serve_exits_with_the_fix_on_an_unmigrated_postgres(empty_pg: str, tmp_path: Path) -> None:
    env = {**os.environ, "WORKTRACK_DATABASE_URL": empty_pg, "WORKTRACK_HOME": str(tmp_path)}
    done = subprocess.run(
        [WORKTRACK, "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "alembic upgrade head" in done.stderr


@pytest.mark.postgres
def test_migrate_command_brings_postgres_to_head(empty_pg: str, tmp_path: Path) -> None:
    env = {**os.environ, "WORKTRACK_DATABASE_URL": empty_pg, "WORKTRACK_HOME": str(tmp_path)}
    done = subprocess.run(
        [WORKTRACK, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert head_revision() in done.stderr
