"""Alembic, run from code: the scripts ship inside the package (``worktrack/_alembic``)
and live at the repository root (``alembic/``) in a source checkout."""

from __future__ import annotations

import asyncio
import functools
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worktrack.errors import WorktrackError


class SchemaError(WorktrackError):
    """The database schema is not the one this version of worktrack needs."""

    name = "SchemaError"


def script_location() -> Path:
    packaged = Path(str(files("worktrack"))) / "_alembic"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(url: str) -> None:
    """``alembic upgrade head``; in a worker thread, as the CLI runs it."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def require_head(engine: AsyncEngine) -> str:
    """Refuse to serve a database whose schema is missing or not at head."""
    return check_head(await current_revision(engine))


async def revision_of(conn: AsyncConnection) -> str | None:
    return await conn.run_sync(_current)


def check_head(current: str | None) -> str:
    head = head_revision()
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}"
        raise SchemaError(
            f"the database schema is {state}, but this worktrack needs revision {head}; "
            "run `alembic upgrade head` from the worktrack repository root (or "
            "`worktrack migrate`) with WORKTRACK_DATABASE_URL set, then start again",
            current=current,
            head=head,
        )
    return head
