"""Opening and closing what a server (or a command) runs on.

The embedded default is one SQLite file, created and migrated on first start. A Postgres
primary comes with its fallback layers: the local replica (migrated like the embedded
file), the status file as committed in git, and the status file on disk. An old Postgres
schema refuses to start; an unreachable Postgres does not stop the start, the fallback
serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from worktrack import migrations, paths
from worktrack.db import Database, create_engine, source_of
from worktrack.errors import ValidationError
from worktrack.fallback import replay, statusfile
from worktrack.fallback.cache import Cache
from worktrack.fallback.primary import Primary
from worktrack.fallback.replica import Replica
from worktrack.fallback.storage import Fallback, ReplayLock
from worktrack.services.app import App, utcnow
from worktrack.settings import Settings
from worktrack.store import queue as queue_store
from worktrack.store.replica import LOCAL_TRIGGERS

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
        fallback = await _fallback(settings, primary, clock)
    except BaseException:
        await engine.dispose()
        raise
    return App(settings=settings, db=primary.db, clock=clock, storage=fallback)


async def _fallback(
    settings: Settings, primary: Primary, clock: Callable[[], datetime]
) -> Fallback:
    await (await _migrated_sqlite(settings.cache_url, foreign_keys=False)).dispose()
    watch = await queue_store.Watch.open(settings.cache_path)
    # Foreign keys off: a refresh replaces rows table by table, parents not always first.
    queue = create_engine(settings.cache_url, synchronous="FULL", foreign_keys=False)
    _remember_local_writes(queue)
    replicated = Database(
        create_engine(settings.cache_url, synchronous="NORMAL", foreign_keys=False),
        "sqlite_cache",
    )
    cache = Cache(
        replicated,
        Database(queue, "sqlite_cache"),
        timedelta(minutes=settings.cache_ttl_minutes),
    )
    readers = [
        statusfile.git_history(settings.repo, settings.status_path),
        statusfile.markdown_file(settings.status_path),
    ]
    lock = ReplayLock(settings.home_dir / "replay.lock", _REPLAY_WAIT_SECONDS)
    replica = Replica(primary, replicated, clock, settings.home_dir / "replica.lock")
    return Fallback(
        primary,
        cache,
        readers,
        _writable_status_file(settings),
        replay.replay,
        lock,
        replica,
        watch,
    )


def _remember_local_writes(engine: AsyncEngine) -> None:
    """Every connection that makes queued writes records the rows they change."""

    @event.listens_for(engine.sync_engine, "connect")
    def _install(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for trigger in LOCAL_TRIGGERS:
            cursor.execute(trigger)
        cursor.close()


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
    """The app with its background work (keeping the replica up to date, replaying when
    the primary is back) running, for as long as a server serves."""
    tasks: list[asyncio.Task[None]] = []
    if isinstance(app.storage, Fallback):
        fallback = app.storage
        tasks = [
            asyncio.create_task(fallback.keep_replica(app, app.settings.cache_sync_seconds)),
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
