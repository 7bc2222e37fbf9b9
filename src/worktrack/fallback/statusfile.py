"""The two last fallback layers, both answering from the status file: as committed in the
repository (``git_history``: the newest of the last 100 commits of HEAD in which it exists
and parses) and as it is on disk (``markdown_file``); and keeping the file on disk in step
with the writes queued during an outage (``reflect``)."""

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
GIT_DEPTH = 100  # commits of HEAD walked back for a status file that parses


@dataclass(frozen=True)
class StatusText:
    text: str
    written_at: datetime  # when the file (or its commit) was written
    note: str  # where it came from, in words
    key: object  # changes whenever the text may have
    parsed: ParsedStatus | None = None  # if already parsed (and found readable)


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
        parsed = source.parsed or _readable(parse(source.text), source.note)
        as_of = parsed.generated_at or source.written_at
        db = await snapshot.build(_rows(parsed, as_of, source.note), self.name)
        await self.close()
        self._built = (source.key, db, as_of)
        return db, as_of

    async def close(self) -> None:
        if self._built is not None:
            await self._built[1].dispose()
            self._built = None


def _readable(parsed: ParsedStatus, note: str) -> ParsedStatus:
    """The parse, unless it found lines it could not read: then nothing from the file is
    trusted (a missing entry must not look like a deleted one). A file without the
    ``# Project Status`` heading is no status file at all."""
    if parsed.generated_at is None and not parsed.errors:
        raise Declined(f"{note} has no '# Project Status' heading")
    if parsed.errors:
        shown = "; ".join(f"line {n}: {why}" for n, why in parsed.errors[:_SHOWN_ERRORS])
        more = len(parsed.errors) - _SHOWN_ERRORS
        raise Declined(
            f"{note} has {len(parsed.errors)} unreadable lines ({shown}"
            + (f"; and {more} more)" if more > 0 else ")")
        )
    return parsed


def _rows(parsed: ParsedStatus, as_of: datetime, note: str) -> snapshot.Rows:
    try:
        return snapshot.rows_of(parsed, as_of)
    except snapshot.BadStatusFile as bad:
        raise Declined(f"{note} is damaged: {bad}") from None


def git_history(repo: Path, path: Path) -> StatusFileLayer:
    return StatusFileLayer(
        "git_history",
        _GitWalk(repo, path).fetch,
        f"the status file is not committed in the last {GIT_DEPTH} commits of the repository",
    )


class _GitWalk:
    """The newest version of the status file, in the last ``GIT_DEPTH`` commits of HEAD,
    that parses: a damaged or missing file at HEAD falls back to an older good one. The
    choice is kept until HEAD moves; a version found damaged is never parsed again."""

    def __init__(self, repo: Path, path: Path) -> None:
        self._repo, self._path = repo, path
        self._chosen: tuple[str, StatusText] | None = None  # HEAD, the version it led to
        self._damaged: dict[str, str] = {}  # blob -> why it does not parse

    async def fetch(self) -> StatusText | None:
        head = await gitrepo.head_commit(self._repo)
        if head is None:
            return None
        if self._chosen is not None and self._chosen[0] == head:
            return self._chosen[1]
        versions = await gitrepo.committed_versions(self._repo, self._path, GIT_DEPTH)
        if not versions:
            return None
        for version in versions:
            found = await self._parsed(version, at_head=version.commit == head)
            if found is not None:
                self._chosen = (head, found)
                return found
        newest = versions[0]
        raise Declined(
            f"the status file does not parse in any of the {len(versions)} versions committed "
            f"in the last {GIT_DEPTH} commits (the newest, {newest.commit[:7]}: "
            f"{self._damaged[newest.blob]})"
        )

    async def _parsed(self, version: gitrepo.CommittedVersion, at_head: bool) -> StatusText | None:
        if version.blob in self._damaged:
            return None
        text = await gitrepo.blob_text(self._repo, version.blob) or ""
        note = (
            f"the status file as committed in {version.commit[:7]} on "
            f"{version.committed_at:%Y-%m-%d %H:%M} UTC"
        )
        if not at_head:
            note += " (the newest commit in which it parses)"
        try:
            parsed = _readable(parse(text), note)
            _rows(parsed, parsed.generated_at or version.committed_at, note)
        except Declined as damaged:
            self._damaged[version.blob] = damaged.reason
            return None
        return StatusText(text, version.committed_at, note, version.blob, parsed)


def markdown_file(path: Path) -> StatusFileLayer:
    def read() -> StatusText | None:
        try:
            text = files.read(path)
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):  # no file (its folder may be a file)
            return None
        if text is None:
            return None
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
