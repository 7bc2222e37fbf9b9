"""Opening and closing what a server (or a command) runs on.

The embedded default is one SQLite file, created and migrated on first start. A Postgres
primary comes with its fallback layers: the local cache (migrated like the embedded file),
the status file as committed in git, and the status file on disk. An old Postgres schema
refuses to start; an unreachable Postgres does not stop the start, the fallback serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

from worktrack import migrations, paths
from worktrack.db import Database, create_engine, source_of
from worktrack.errors import ValidationError
from worktrack.fallback import replay, statusfile
from worktrack.fallback.cache import Cache
from worktrack.fallback.primary import Primary
from worktrack.fallback.storage import Fallback, ReplayLock
from worktrack.services.app import App, utcnow
from worktrack.settings import Settings

log = logging.getLogger(__name__)
# How long a replay waits for another local process that is replaying already.
_REPLAY_WAIT_SECONDS = 30.0


async def _migrated_sqlite(
    url: str, *, synchronous: str = "NORMAL", foreign_keys: bool = True
) -> Database:
    engine = create_engine(url, synchronous=synchronous, foreign_keys=foreign_keys)
    try:
        if await migrations.current_revision(engine) != migrations.head_revision():
            await migrations.upgrade(url)
    except BaseException:
        await engine.dispose()
        raise
    return Database(engine, source_of(url))


async def open_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> App:
    """Connect to the configured database; migrate SQLite, refuse an old Postgres schema."""
    await asyncio.to_thread(paths.prepare_home, settings)
    url = settings.effective_database_url
    if source_of(url) == "sqlite":
        return App(settings=settings, db=await _migrated_sqlite(url), clock=clock)
    engine = create_engine(
        url,
        connect_timeout=settings.connect_timeout_seconds,
        statement_timeout=settings.statement_timeout_seconds,
    )
    primary = Primary(Database(engine, "postgresql"), settings.retry_seconds)
    try:
        await primary.open()
        fallback = await _fallback(settings, primary)
    except BaseException:
        await engine.dispose()
        raise
    return App(settings=settings, db=primary.db, clock=clock, storage=fallback)


async def _fallback(settings: Settings, primary: Primary) -> Fallback:
    # Foreign keys off: the cache holds what was seen, not always a row's parents.
    queue = await _migrated_sqlite(settings.cache_url, synchronous="FULL", foreign_keys=False)
    fills = create_engine(settings.cache_url, synchronous="NORMAL", foreign_keys=False)
    cache = Cache(
        Database(fills, "sqlite_cache"),
        Database(queue.engine, "sqlite_cache"),
        timedelta(minutes=settings.cache_ttl_minutes),
    )
    readers = [
        statusfile.git_history(settings.repo, settings.status_path),
        statusfile.markdown_file(settings.status_path),
    ]
    lock = ReplayLock(settings.home_dir / "replay.lock", _REPLAY_WAIT_SECONDS)
    fallback = Fallback(
        primary, cache, readers, _writable_status_file(settings), replay.replay, lock
    )
    fallback.pending = await fallback.queued() > 0
    return fallback


def _writable_status_file(settings: Settings) -> Path | None:
    """Where outage writes are shown: the status file, if it may be written (inside the
    repository or WORKTRACK_HOME); read-only fallback layers read it wherever it is."""
    try:
        return paths.status_file(settings)
    except ValidationError as refused:
        log.warning("outage writes will not be shown in the status file: %s", refused.message)
        return None


async def close_app(app: App) -> None:
    """Close everything ``open_app`` opened; each engine is disposed even if a step before
    it failed, so no connection outlives the app."""
    try:
        await app.db.dispose()
    finally:
        if isinstance(app.storage, Fallback):
            try:
                await app.storage.close()
            finally:
                await app.storage.cache.dispose()


@contextlib.asynccontextmanager
async def running(app: App) -> AsyncIterator[App]:
    """The app with its background work (filling the cache, replaying when the primary is
    back) running, for as long as a server serves."""
    tasks: list[asyncio.Task[None]] = []
    if isinstance(app.storage, Fallback):
        fallback = app.storage
        tasks = [
            asyncio.create_task(fallback.cache.flush_forever()),
            asyncio.create_task(fallback.maintain(app, app.settings.sync_interval_seconds)),
        ]
    try:
        yield app
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await close_app(app)
