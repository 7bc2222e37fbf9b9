"""Alembic, run from code: the scripts ship inside the package (``worktrack/_alembic``)
and live at the repository root (``alembic/``) in a source checkout."""

from __future__ import annotations

import asyncio
import functools
import re
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worktrack.errors import WorktrackError

if TYPE_CHECKING:
    from alembic.config import Config

# alembic is imported only to migrate: a start on a schema already at head reads the head
# off the migration files and the current revision with one SELECT (alembic's import was
# a sixth of a cold start).
_REVISION = re.compile(r"^revision(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?::[^=]*)?=\s*(?:None|[\"']([^\"']+)[\"'])", re.MULTILINE)


class SchemaError(WorktrackError):
    """The database schema is not the one this version of worktrack needs."""

    name = "SchemaError"


def script_location() -> Path:
    packaged = Path(str(files("worktrack"))) / "_alembic"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@functools.cache
def head_revision() -> str:
    return _head_from_files() or _head_from_alembic()


def _head_from_files() -> str | None:
    """The one revision no other migration names as its ``down_revision``; None when the
    files do not say so plainly (alembic then decides)."""
    revisions, downs = set(), set()
    for path in (script_location() / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            downs.add(down.group(1))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _head_from_alembic() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def _current(connection: Connection) -> str | None:
    """The schema's revision as alembic records it (None: never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return ",".join(found) if found else None


async def upgrade(url: str) -> None:
    """``alembic upgrade head``; in a worker thread, as the CLI runs it."""
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


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
