"""A scratch database for one benchmark run, migrated to head and removed afterwards.

SQLite: a file in a temporary directory. Postgres: a database with a unique name created
on the server ``--database-url`` names (that URL's own database is only used to run
CREATE and DROP DATABASE), dropped at the end even if the run fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from worktrack import migrations


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def database(server_url: str | None, directory: Path) -> AsyncIterator[str]:
    """Yield the URL of a fresh, migrated database; ``None`` means SQLite in ``directory``."""
    if server_url is None:
        url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
        await migrations.upgrade(url)
        yield url
        return
    name = f"worktrack_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        await migrations.upgrade(url)
        yield url
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
