"""The two last fallback layers, both answering from the status file: as last committed in
the repository (``git_history``) and as it is on disk (``markdown_file``); and keeping the
file on disk in step with the writes queued during an outage (``reflect``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import gitrepo
from worktrack.db import Database, DataSource, Unit
from worktrack.errors import NotFoundError
from worktrack.fallback import snapshot
from worktrack.fallback.layers import Answer, Declined
from worktrack.models.common import Envelope
from worktrack.report import files, readmodel, render
from worktrack.report.parse import parse
from worktrack.report.parsed import ParsedStatus
from worktrack.store import cache as cache_store
from worktrack.store import tap

R = TypeVar("R", bound=Envelope)
_SHOWN_ERRORS = 3


@dataclass(frozen=True)
class StatusText:
    text: str
    written_at: datetime  # when the file (or its commit) was written
    note: str  # where it came from, in words
    key: object  # changes whenever the text may have


class StatusFileLayer:
    """Answers reads from a status file by running them on a database built from it; the
    database is rebuilt only when the file changes."""

    def __init__(
        self, name: DataSource, fetch: Callable[[], Awaitable[StatusText | None]], missing: str
    ) -> None:
        self.name = name
        self._fetch = fetch
        self._missing = missing
        self._built: tuple[object, Database, datetime] | None = None
        self._lock = asyncio.Lock()

    async def answer(self, unit: Unit[R], now: datetime) -> Answer[R]:
        source = await self._fetch()
        if source is None:
            raise Declined(self._missing)
        async with self._lock:  # one build at a time, and never disposed while in use
            db, as_of = await self._database(source)
            with tap.collecting() as seen:
                try:
                    result = await db.run(unit)
                except NotFoundError as error:
                    raise Declined(f"not in {source.note} ({error.message})") from None
        if not seen.shown():
            raise Declined(f"{source.note} holds nothing for this request")
        return Answer(result, as_of, source.note)

    async def _database(self, source: StatusText) -> tuple[Database, datetime]:
        if self._built is not None and self._built[0] == source.key:
            return self._built[1], self._built[2]
        parsed = _readable(parse(source.text), source.note)
        as_of = parsed.generated_at or source.written_at
        try:
            rows = snapshot.rows_of(parsed, as_of)
        except snapshot.BadStatusFile as bad:
            raise Declined(f"{source.note} is damaged: {bad}") from None
        db = await snapshot.build(rows, self.name)
        await self.close()
        self._built = (source.key, db, as_of)
        return db, as_of

    async def close(self) -> None:
        if self._built is not None:
            await self._built[1].dispose()
            self._built = None


def _readable(parsed: ParsedStatus, note: str) -> ParsedStatus:
    """The parse, unless it found lines it could not read: then nothing from the file is
    trusted (a missing entry must not look like a deleted one)."""
    if parsed.errors:
        shown = "; ".join(f"line {n}: {why}" for n, why in parsed.errors[:_SHOWN_ERRORS])
        more = len(parsed.errors) - _SHOWN_ERRORS
        raise Declined(
            f"{note} has {len(parsed.errors)} unreadable lines ({shown}"
            + (f"; and {more} more)" if more > 0 else ")")
        )
    return parsed


def git_history(repo: Path, path: Path) -> StatusFileLayer:
    async def fetch() -> StatusText | None:
        found = await gitrepo.committed_file(repo, path)
        if found is None:
            return None
        note = f"the status file as committed in {found.commit[:7]}"
        return StatusText(found.text, found.committed_at, note, found.commit)

    return StatusFileLayer(
        "git_history", fetch, "the status file is not committed in the repository"
    )


def markdown_file(path: Path) -> StatusFileLayer:
    def read() -> StatusText | None:
        text = files.read(path)
        if text is None:
            return None
        info = path.stat()
        written = datetime.fromtimestamp(info.st_mtime, UTC)
        return StatusText(
            text, written, f"the status file {path}", (info.st_mtime_ns, info.st_size, len(text))
        )

    async def fetch() -> StatusText | None:
        return await asyncio.to_thread(read)

    return StatusFileLayer("markdown_file", fetch, f"there is no status file at {path}")


async def reflect(cache: Database, path: Path, now: datetime, *, lock: Path) -> list[str]:
    """Show the writes queued in ``cache`` in the status file on disk, on top of what it
    says; warnings (not errors) when that cannot be done, since the queue already holds
    the writes durably."""
    overlay = await cache.run(cache_store.local_rows)
    async with files.locked(path, lock=lock):
        text = await asyncio.to_thread(files.read, path)
        base: snapshot.Rows = {}
        if text is not None:
            parsed = parse(text)
            if parsed.errors:
                return [f"the status file {path} was left as it is: it has unreadable lines"]
            try:
                base = snapshot.rows_of(parsed, parsed.generated_at or now)
            except snapshot.BadStatusFile as bad:
                return [f"the status file {path} was left as it is: {bad}"]
        built = await snapshot.build(base, "markdown_file", overlay)
        try:
            markdown = await built.run(lambda conn: report_text(conn, now))
        finally:
            await built.dispose()
        await asyncio.to_thread(files.replace, path, markdown)
    return []


async def report_text(conn: AsyncConnection, now: datetime) -> str:
    return render.render(await readmodel.load(conn), now)


async def write_report(path: Path, markdown: str, *, lock: Path) -> None:
    async with files.locked(path, lock=lock):
        await asyncio.to_thread(files.replace, path, markdown)
