"""Where bulk work runs: export, import, ``import-legacy``, archiving and the benchmark's
seeding handle 100,000 rows, so their statements may take longer than the interactive 5 s.

On Postgres they get an engine of their own on the same database whose statement, lock and
asyncpg command timeouts are ``bulk_statement_timeout_seconds`` (generous, configurable);
every interactive call keeps the short limit. SQLite has no statement timeout: bulk work
there runs on the app's own database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from worktrack.db import Database, create_engine
from worktrack.settings import Settings


def engine(url: str, settings: Settings) -> AsyncEngine:
    """An engine on ``url`` whose statements may run for the bulk timeout."""
    return create_engine(
        url,
        connect_timeout=settings.connect_timeout_seconds,
        statement_timeout=settings.bulk_statement_timeout_seconds,
    )


@asynccontextmanager
async def database(settings: Settings, db: Database) -> AsyncIterator[Database]:
    """``db`` with the bulk timeout: ``db`` itself on SQLite, else a second engine on its
    URL, disposed at the end."""
    if db.dialect == "sqlite":
        yield db
        return
    url = db.engine.url.render_as_string(hide_password=False)
    bulk = Database(engine(url, settings), db.source)
    try:
        yield bulk
    finally:
        await bulk.dispose()
