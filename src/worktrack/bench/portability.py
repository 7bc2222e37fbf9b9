"""Export and import at the benchmark's size (``worktrack export`` / ``worktrack import``):
the seeded database is exported, imported into an empty SQLite database and exported again;
with a Postgres server, that export is imported into an empty Postgres database too, so one
run times both directions of the move. Each step is timed; the exports must match."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from worktrack.bench import scratch
from worktrack.db import source_of
from worktrack.portable.sink import export_sink
from worktrack.services import portability
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app


@dataclass
class Portability:
    rows: int = 0
    steps: list[tuple[str, float]] = field(default_factory=list)  # what, seconds
    identical: bool = False  # the exports of the run have the same lines


def _settings(url: str, directory: Path) -> Settings:
    (directory / "repo").mkdir(parents=True, exist_ok=True)
    return Settings(database_url=url, home=directory / "home", repo=directory / "repo")


async def _export(url: str, directory: Path, output: Path) -> tuple[int, float]:
    app = await open_app(_settings(url, directory))
    try:
        start = time.perf_counter()
        with export_sink(output) as write:
            done = await portability.export_data(app, write)
        return sum(done.counts.values()), time.perf_counter() - start
    finally:
        await close_app(app)


async def _import(url: str, directory: Path, source: Path) -> float:
    app = await open_app(_settings(url, directory))
    try:
        start = time.perf_counter()
        await portability.import_data(app, source)
        return time.perf_counter() - start
    finally:
        await close_app(app)


def _same(one: Path, other: Path) -> bool:
    """Line for line the same, apart from the header's exported_at."""
    with one.open("rb") as a, other.open("rb") as b:
        first_a, first_b = json.loads(next(a)), json.loads(next(b))
        first_a.pop("exported_at")
        first_b.pop("exported_at")
        return first_a == first_b and all(
            x == y for x, y in itertools.zip_longest(a, b, fillvalue=None)
        )


async def measure(seeded_url: str, server_url: str | None, directory: Path) -> Portability:
    found = Portability()
    seeded, via_sqlite = directory / "seeded.jsonl", directory / "via-sqlite.jsonl"
    source = source_of(seeded_url)
    found.rows, took = await _export(seeded_url, directory / "seeded", seeded)
    found.steps.append((f"export from {source}", took))
    (directory / "sqlite").mkdir(parents=True)
    async with scratch.database(None, directory / "sqlite") as url:
        found.steps.append(("import into sqlite", await _import(url, directory / "sqlite", seeded)))
        _rows, took = await _export(url, directory / "sqlite", via_sqlite)
        found.steps.append(("export from sqlite", took))
    if server_url is not None:
        target = directory / "postgres"
        async with scratch.database(server_url, target) as url:
            found.steps.append(("import into postgresql", await _import(url, target, via_sqlite)))
    found.identical = _same(seeded, via_sqlite)
    return found
