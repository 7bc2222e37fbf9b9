"""The local cache layer: a SQLite file of the primary's schema, filled with the rows the
primary showed and holding the writes queued while it was down.

Filling happens off the call path: rows seen are buffered and written in batches by a
background task, so a Postgres read never waits on a SQLite fsync. A read from the cache
is answered only if every entity row it shows was seen within the TTL (or holds a write
queued here, which is the newest state this machine knows).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TypeVar

from worktrack.db import Database, DataSource, Unit
from worktrack.errors import NotFoundError
from worktrack.fallback.layers import Answer, Declined
from worktrack.models.common import Envelope
from worktrack.store import cache as cache_store
from worktrack.store import tap
from worktrack.store.tap import Seen
from worktrack.store.tap import key_of as tap_key

R = TypeVar("R", bound=Envelope)
log = logging.getLogger(__name__)
_BATCH_DELAY_SECONDS = 0.05
_MAX_BUFFERED = 10_000  # calls; beyond this the oldest are dropped (it is only a cache)
# A row read again and again is written again at most this often: its cached_at may lag
# by that much, which only ever makes it look older, never fresher than it is.
_REFRESH = timedelta(minutes=2)
_MAX_REMEMBERED = 200_000


class Cache:
    name: DataSource = "sqlite_cache"

    def __init__(self, db: Database, queue_db: Database, ttl: timedelta) -> None:
        # Two engines on one file. Filling and reading the cache may lose its last rows to
        # an OS crash (synchronous=NORMAL: a cache); the queue holds the only copy of the
        # writes made during an outage, so its commits are synced (synchronous=FULL).
        self.db = db
        self.queue_db = queue_db
        self.ttl = ttl
        self._buffer: list[tuple[Seen, datetime]] = []
        self._recent = _Recent(min(_REFRESH, ttl / 10))
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()

    def remember(self, seen: Seen, now: datetime) -> None:
        """Keep what a successful primary call showed (written soon, in the background)."""
        seen = self._recent.new(seen, now)
        if seen:
            self._buffer.append((seen, now))
            del self._buffer[:-_MAX_BUFFERED]
            self._wake.set()

    async def flush(self) -> None:
        """Write what is buffered; returns once everything remembered so far is written (a
        read from the cache must not overtake a write of what the primary showed)."""
        async with self._flushing:
            batch, self._buffer = self._buffer, []
            if not batch:
                return

            await self.db.run(lambda conn: cache_store.absorb(conn, batch), write=True)

    async def flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(_BATCH_DELAY_SECONDS)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # a cache that cannot be written must not stop the server
                log.exception("could not write the local cache")

    async def dispose(self) -> None:
        await self.db.dispose()
        await self.queue_db.dispose()

    async def answer(self, unit: Unit[R], now: datetime) -> Answer[R]:
        await self.flush()
        with tap.collecting() as seen:
            try:
                result = await self.db.run(unit)
            except NotFoundError as error:
                raise Declined(f"not in the local cache ({error.message})") from None
        keys = [key for key in seen.shown() if key[0] in cache_store.TRACKED]
        if not keys:
            raise Declined("the local cache holds nothing for this request")
        entries = await self.db.run(lambda conn: cache_store.seen_at(conn, keys))
        if len(entries) < len(keys):
            raise Declined("part of the cached answer is no longer confirmed by the primary")
        confirmed = [at for at, local in entries.values() if not local]
        as_of = min(confirmed, default=now)
        if now - as_of > self.ttl:
            age = int((now - as_of).total_seconds() // 60)
            limit = int(self.ttl.total_seconds() // 60)
            raise Declined(f"the cached data is {age} minutes old, past the {limit}-minute limit")
        queued = any(local for _at, local in entries.values())
        note = "the local cache" + (", with writes queued on this machine" if queued else "")
        return Answer(result, as_of, note)


Mark = tuple[object, datetime]


class _Recent:
    """What was written to the cache lately, by row and by link set."""

    def __init__(self, refresh: timedelta) -> None:
        self._refresh = refresh
        self._marks: dict[object, Mark] = {}

    def _unchanged(self, key: object, mark: object, now: datetime) -> bool:
        known = self._marks.get(key)
        if known is not None and known[0] == mark and now - known[1] < self._refresh:
            return True
        if len(self._marks) >= _MAX_REMEMBERED:
            self._marks.clear()
        self._marks[key] = (mark, now)
        return False

    def new(self, seen: Seen, now: datetime) -> Seen:
        """``seen`` without what the cache already got, unchanged, a moment ago."""
        kept = Seen(written=set(seen.written), deleted=list(seen.deleted))
        for table, gone in seen.deleted:
            self._marks.pop((table, tap_key(table, gone)), None)
        for key, values in seen.rows.items():
            if key in seen.written or not self._unchanged(key, values.get("version"), now):
                kept.rows[key] = values
        kept.link_sets = [
            link
            for link in seen.link_sets
            if not self._unchanged((link.table, link.columns, link.value), link.rows, now)
        ]
        kept.touched = {key for key in seen.touched if not self._unchanged(key, None, now)}
        return kept
