"""Keeping the local replica up to date with the primary (ADR 0015).

A refresh reads, in one REPEATABLE READ snapshot of the primary, the keys of every row
changed by a transaction the previous refresh's snapshot could not see (``replica_changes``
rows of transactions still running then or begun since, all with ids at least that
snapshot's xmin), plus the rows writes queued here changed, and then the current rows for
those keys; one SQLite transaction then replaces exactly those rows and records the new
snapshot. A replica never copied, or one older than the changes the primary still keeps,
is copied whole instead, also in one snapshot and one transaction, so a reader sees the
old replica or the new one, never a mix.

Nothing is applied while writes queued here wait for their replay (they changed the
replica's rows; the primary's would overwrite them), nor if a write was queued after the
refresh began reading. One refresher at a time per file, across processes (a lock file);
the checks inside the transaction keep it right even without the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from filelock import FileLock
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Database
from worktrack.errors import UnavailableError
from worktrack.fallback import locks
from worktrack.fallback.primary import Primary
from worktrack.store import feed
from worktrack.store import replica as store
from worktrack.store.replica import REPLICATED, Keys, ReplicaState, Row, Snapshot

log = logging.getLogger(__name__)
_COPY_CHUNK = 100  # rows per round trip of a first copy: short steps for the event loop


@dataclass(frozen=True)
class Refreshed:
    kind: Literal["copy", "changes", "skipped"]
    rows: int = 0  # rows written to the replica
    keys: int = 0  # rows the primary named as changed (or queued writes changed)
    seconds: float = 0.0
    reason: str | None = None  # why it was skipped


@dataclass(frozen=True)
class _Before:
    """The replica as the refresh found it; it applies only if it is still so."""

    state: ReplicaState | None
    local: Keys
    pending: int

    def unchanged(self, now: ReplicaState | None, pending: int) -> str | None:
        if pending:
            return "writes queued on this machine wait for their replay"
        if _mark(now) != _mark(self.state):
            return "the replica changed while the refresh read the primary"
        return None


def _mark(state: ReplicaState | None) -> tuple[str, int] | None:
    """What moves when a refresh applies or a write is queued."""
    return None if state is None else (state.snapshot, state.local_writes)


class _LocalFailure(Exception):
    """The replica file failed while a primary transaction was open: not the primary's
    fault, so it must not count as the primary being unavailable."""

    def __init__(self, error: UnavailableError) -> None:
        super().__init__(error.message)
        self.error = error


class _Stale(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Replica:
    def __init__(
        self, primary: Primary, db: Database, clock: Callable[[], datetime], lock_path: Path
    ) -> None:
        self.primary = primary
        self.db = db
        self.clock = clock
        self._lock = FileLock(lock_path, thread_local=False)
        self._local = asyncio.Lock()

    async def refresh(self, *, wait: float = 0.0) -> Refreshed:
        """Bring the replica up to date now; ``wait`` seconds for another refresher."""
        started = time.perf_counter()
        async with self._held(wait) as held:
            if not held:
                return Refreshed("skipped", reason="another process is refreshing the replica")
            try:
                done = await self._refresh()
            except _Stale as stale:
                return Refreshed("skipped", reason=stale.reason)
            except _LocalFailure as failure:
                raise failure.error from None
        return Refreshed(done.kind, done.rows, done.keys, time.perf_counter() - started)

    async def _refresh(self) -> Refreshed:
        # The replica is as old as the moment its data was read, not as the moment it was
        # stored: its age never understates.
        now = self.clock()
        before = await self.db.run(_look)
        if before.pending:
            raise _Stale("writes queued on this machine wait for their replay")
        if before.state is None:
            return await self._copy(before, now)
        since = Snapshot(before.state.watermark, before.state.snapshot)
        read = await self.primary.run(lambda conn: _changes(conn, since, before.local))
        if read is None:  # the primary no longer keeps every change since the watermark
            return await self._copy(before, now)
        snapshot, keys, rows = read

        async def apply(conn: AsyncConnection) -> None:
            await _check(conn, before)
            for table in REPLICATED:
                if keys.get(table.name):
                    await store.replace(conn, table, keys[table.name], rows[table.name])
            await store.forget_local(conn)
            await store.record_refresh(conn, snapshot, now, copied=False)

        await self.db.run(apply, write=True)
        return Refreshed("changes", sum(map(len, rows.values())), sum(map(len, keys.values())))

    async def _copy(self, before: _Before, now: datetime) -> Refreshed:
        copied = 0

        async def from_primary(pg: AsyncConnection) -> None:
            snapshot = await feed.begin_snapshot(pg)

            async def into_replica(conn: AsyncConnection) -> None:
                nonlocal copied
                copied = 0  # again, if the transaction is retried
                await _check(conn, before)
                for table in REPLICATED:
                    await store.clear(conn, table)
                    async for part in _primary_side(feed.stream(pg, table, _COPY_CHUNK)):
                        await store.insert_rows(conn, table, part)
                        copied += len(part)
                await store.forget_local(conn)
                await store.record_refresh(conn, snapshot, now, copied=True)

            try:
                await self.db.run(into_replica, write=True)
            except _PrimaryFailure as failure:
                raise failure.error from None  # the primary's own error, for its edge
            except UnavailableError as error:
                raise _LocalFailure(error) from None

        await self.primary.run(from_primary)
        return Refreshed("copy", copied, copied)

    @contextlib.asynccontextmanager
    async def _held(self, wait: float) -> AsyncIterator[bool]:
        async with self._local:
            try:
                held = await locks.acquire(self._lock, wait)
            except OSError as error:  # a broken lock path: the checks in the transaction
                log.warning("replica lock unusable (%s); refreshing without it", error)
                yield True
                return
            if not held:
                yield False
                return
            try:
                yield True
            finally:
                await asyncio.to_thread(self._lock.release)


async def _look(conn: AsyncConnection) -> _Before:
    return _Before(
        await store.state(conn), await store.local_keys(conn), await store.pending_writes(conn)
    )


async def _check(conn: AsyncConnection, before: _Before) -> None:
    why = before.unchanged(await store.state(conn), await store.pending_writes(conn))
    if why is not None:
        raise _Stale(why)


async def _changes(
    conn: AsyncConnection, since: Snapshot, local: Keys
) -> tuple[Snapshot, Keys, dict[str, list[Row]]] | None:
    snapshot = await feed.begin_snapshot(conn)
    if since.xmin < await feed.horizon(conn):
        return None
    keys = await feed.changed_keys(conn, since)
    for table_name, named in local.items():
        keys.setdefault(table_name, set()).update(named)
    rows = {
        table.name: await feed.rows(conn, table, keys[table.name])
        for table in REPLICATED
        if keys.get(table.name)
    }
    return snapshot, keys, rows


class _PrimaryFailure(Exception):
    """The primary failed while the replica's transaction was open: its error must reach
    the primary's edge untouched, not be taken for the replica file's."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


async def _primary_side(parts: AsyncIterator[list[Row]]) -> AsyncIterator[list[Row]]:
    while True:
        try:
            part = await anext(parts)
        except StopAsyncIteration:
            return
        except Exception as error:
            raise _PrimaryFailure(error) from None
        yield part
