"""``worktrack export`` and ``worktrack import``: every exported table (``portable.kinds``)
as canonical JSON Lines (``portable.lines``), and back.

Export reads one consistent snapshot, a chunk of rows at a time, on the bulk database. With
a Postgres primary that cannot be reached, it reads this machine's local replica instead
and says so. Import checks the whole file first (header, every line, duplicate keys) and
refuses it, naming the line, before anything is written; then, in one transaction on an
empty database at the file's schema revision, it loads the lines in chunks, in the order
they come (the export's order puts every row after the rows it refers to).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import bulk, migrations
from worktrack.db import Database, DataSource
from worktrack.errors import ConflictError, UnavailableError, ValidationError
from worktrack.fallback.storage import Fallback
from worktrack.portable import lines
from worktrack.portable.kinds import EXPORTED, Kind
from worktrack.progress import Progress, silent
from worktrack.services.app import App
from worktrack.store import portable as store
from worktrack.store.bulk import CHUNK_ROWS

Write = Callable[[list[str]], Awaitable[None]]
_BLOCK_BYTES = 1 << 20  # the import reads the file a megabyte of lines at a time


@dataclass(frozen=True)
class Exported:
    counts: dict[str, int]  # lines by kind
    source: DataSource
    # Why the local replica was exported instead of the primary (None: it was not).
    replica_note: str | None = None


@dataclass(frozen=True)
class Imported:
    counts: dict[str, int]
    header: lines.Header


# -- export ---------------------------------------------------------------------------------


@dataclass
class _Writing:
    started: bool = False


async def export_data(app: App, write: Write, progress: Progress = silent) -> Exported:
    """Write the header and every exported row, as lines, to ``write``."""
    writing = _Writing()
    unit = partial(_export, app, write, progress, writing)
    async with bulk.database(app.settings, app.db) as db:
        try:
            return Exported(await db.run(unit), db.source)
        except UnavailableError as error:
            replica = _replica(app)
            if replica is None or writing.started:
                raise
            reason = error.message
    note = (
        f"{app.db.source} is unreachable ({reason}); exported this machine's local replica "
        f"({app.settings.home_dir / 'cache.db'}) instead, as of its last refresh"
    )
    return Exported(await replica.run(unit), replica.source, note)


def _replica(app: App) -> Database | None:
    """Where the data lives while a Postgres primary is down: the local cache/replica."""
    return app.storage.cache.db if isinstance(app.storage, Fallback) else None


async def _export(
    app: App, write: Write, progress: Progress, writing: _Writing, conn: AsyncConnection
) -> dict[str, int]:
    if writing.started:  # a retried transaction must not write the lines twice
        raise UnavailableError("the export was interrupted after it began; run it again")
    await store.snapshot(conn)
    revision = await migrations.revision_of(conn)
    if revision is None:
        raise ValidationError("database", "is not migrated: there is nothing to export")
    counts = await store.counts(conn)
    total, done = sum(counts.values()), 0
    writing.started = True
    await write([lines.header(revision, app.clock())])
    for kind in EXPORTED:
        async for chunk in store.rows(conn, kind):
            await write([lines.encode(kind, row) for row in chunk])
            done += len(chunk)
            await progress(done, total, kind.name)
    return counts


# -- import ---------------------------------------------------------------------------------


@dataclass
class _Checked:
    header: lines.Header | None = None
    counts: dict[str, int] = field(default_factory=lambda: {kind.name: 0 for kind in EXPORTED})
    keys: dict[str, set[tuple[Any, ...]]] = field(default_factory=dict)


async def import_data(app: App, path: Path, progress: Progress = silent) -> Imported:
    """Load an export into this (empty, migrated) database: all of it, or nothing."""
    try:
        header, counts = await _check(path, progress)
        async with bulk.database(app.settings, app.db) as db:
            unit = partial(_load, path, header, sum(counts.values()), progress)
            await db.run(unit, write=True)
    except lines.MalformedLine as bad:
        raise ValidationError("file", str(bad), message=f"{path}: {bad}") from None
    return Imported(counts, header)


async def _numbered(path: Path) -> AsyncGenerator[tuple[int, str]]:
    """The file's lines with their numbers (from 1), read in a worker thread. Only "\\n"
    ends a line: U+2028 and the like are text inside one."""
    if not await asyncio.to_thread(path.is_file):
        raise ValidationError("file", f"{path} is not a file")
    file = await asyncio.to_thread(path.open, "rb")
    try:
        number = 0
        while block := await asyncio.to_thread(file.readlines, _BLOCK_BYTES):
            for raw in block:
                number += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise lines.MalformedLine(number, "not UTF-8") from None
                yield number, text.removesuffix("\n")
    finally:
        await asyncio.to_thread(file.close)


async def _check(path: Path, progress: Progress) -> tuple[lines.Header, dict[str, int]]:
    """Read the whole file once: the header, every line against its table, no key twice."""
    checked = _Checked()
    async with aclosing(_numbered(path)) as numbered:
        async for number, text in numbered:
            await _check_line(checked, number, text, progress)
    if checked.header is None:
        raise lines.MalformedLine(1, "the file is empty; an export starts with its header line")
    return checked.header, checked.counts


async def _check_line(checked: _Checked, number: int, text: str, progress: Progress) -> None:
    if number == 1:
        checked.header = lines.read_header(number, text)
        return
    kind, row = lines.decode(number, text)
    key = tuple(row[name] for name in kind.key)
    seen = checked.keys.setdefault(kind.name, set())
    if key in seen:
        raise lines.MalformedLine(number, f"a second {kind.name} with key {key}")
    seen.add(key)
    checked.counts[kind.name] += 1
    if number % CHUNK_ROWS == 0:
        await progress(number, None, "checking the file")


async def _load(
    path: Path, header: lines.Header, total: int, progress: Progress, conn: AsyncConnection
) -> None:
    revision = await migrations.revision_of(conn)
    if revision != header.schema_revision:
        said = (
            f"exported at schema revision {header.schema_revision}, but this database is at "
            f"{revision}; import it with the worktrack version that exported it"
        )
        raise ValidationError("file", said, message=f"{path}: {said}")
    if taken := await store.occupied(conn):
        raise ConflictError(
            f"the database already holds {', '.join(taken)} rows; import only into an "
            "empty, migrated database (nothing was imported)",
            kinds=taken,
        )
    batch = _Batch(conn, total, progress)
    async with aclosing(_numbered(path)) as numbered:
        async for number, text in numbered:
            if number > 1:
                await batch.add(*lines.decode(number, text))
    await batch.flush()
    await store.continue_sequences(conn)


@dataclass
class _Batch:
    """Consecutive rows of one kind, inserted a chunk at a time."""

    conn: AsyncConnection
    total: int
    progress: Progress
    kind: Kind | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0

    async def add(self, kind: Kind, row: dict[str, Any]) -> None:
        if kind is not self.kind or len(self.rows) >= CHUNK_ROWS:
            await self.flush()
            self.kind = kind
        self.rows.append(row)

    async def flush(self) -> None:
        if self.kind is None or not self.rows:
            return
        await store.insert_rows(self.conn, self.kind, self.rows)
        self.done += len(self.rows)
        self.rows = []
        await self.progress(self.done, self.total, self.kind.name)
