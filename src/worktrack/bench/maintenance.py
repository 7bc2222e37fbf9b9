"""The maintenance measurements: importing a large legacy project (target under 5 s), and
archiving 10,000 old finished items without slowing the everyday reads. Each runs on a
scratch database of its own, through the services as `worktrack import-legacy` and
`worktrack archive` do; one that fails is reported with why, and the other still runs.

Both grow with ``scale``: the legacy project is the realistic one times ``scale``; the old
items are 10,000 times ``scale`` up to scale 1, then 10,000 or as many as the seeded
project's items (1,200 times ``scale``), whichever is more: 99,600 at scale 83."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worktrack.bench import scratch
from worktrack.bench.attempt import attempt
from worktrack.bench.measure import Stats
from worktrack.legacy.sample import write_sample
from worktrack.services import archive, legacy_import, work_items
from worktrack.services.app import App
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app

OLD = datetime(2024, 6, 1, tzinfo=UTC)
ARCHIVE_AFTER_DAYS = 400


@dataclass(frozen=True)
class Maintenance:
    import_counts: dict[str, int]
    import_seconds: float | None  # None: it failed (``failures`` says why)
    archived: int
    archive_seconds: float | None
    reads_before: dict[str, Stats]
    reads_after: dict[str, Stats]
    failures: dict[str, str]


Step = Callable[[str], Awaitable[None]]


async def _unwatched(_step: str) -> None:
    return None


async def measure(
    server_url: str | None, scale: float, iterations: int, step: Step = _unwatched
) -> Maintenance:
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="worktrack-bench-maintenance-") as temp:
        directory = Path(temp)
        await step("maintenance: a large legacy import")
        took = await attempt(failures, "legacy import", _import(server_url, directory, scale))
        await step(f"maintenance: archiving {old_items(scale):,} old items")
        moved = _archive(server_url, directory / "archive", scale, iterations)
        archived = await attempt(failures, "archive", moved)
    count, seconds, before, after = archived or (0, None, {}, {})
    return Maintenance(import_counts(scale), took, count, seconds, before, after, failures)


def _count(base: int, scale: float) -> int:
    return max(1, round(base * scale))


def old_items(scale: float) -> int:
    return min(_count(10_000, scale), max(10_000, _count(1_200, scale)))


def import_counts(scale: float) -> dict[str, int]:
    return {
        "vendors": _count(45, scale),
        "work_items": _count(1200, scale),
        "deployments": _count(100, scale),
        "prompts": _count(200, scale),
    }


async def _opened(url: str, directory: Path) -> App:
    (directory / "repo").mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=url, home=directory / "home", repo=directory / "repo", actor="bench"
    )
    return (await open_app(settings)).acting_as("bench")


async def _import(server_url: str | None, directory: Path, scale: float) -> float:
    """45 vendors, 1,200 work items, 100 deployments and 200 prompts (times ``scale``)."""
    directory = directory / "import"
    counts = import_counts(scale)
    sample = write_sample(
        directory / "legacy",
        vendors=counts["vendors"],
        work_items=counts["work_items"],
        deployments=counts["deployments"],
        prompts=counts["prompts"],
    )
    async with scratch.database(server_url, directory) as url:
        app = await _opened(url, directory)
        try:
            start = time.perf_counter()
            result = await legacy_import.import_legacy(
                app, path=sample.status_file, prompts_dir=sample.prompts_dir
            )
            took = time.perf_counter() - start
        finally:
            await close_app(app)
    if not result.success:
        raise RuntimeError(f"the generated legacy project did not import: {result.errors}")
    return took


async def _archive(
    server_url: str | None, directory: Path, scale: float, iterations: int
) -> tuple[int, float, dict[str, Stats], dict[str, Stats]]:
    """Items finished long ago (``old_items``) beside an active project: the reads a
    session makes, before and after the old ones move to the archive."""
    old = write_sample(
        directory / "old",
        work_items=old_items(scale),
        completed_share=1.0,
        generated_at=OLD,
        prompts=0,
        deployments=0,
    )
    active = write_sample(
        directory / "active",
        vendors=0,
        prompts=0,
        deployments=0,
        seed=1,
        generated_at=datetime.now(UTC),
    )
    async with scratch.database(server_url, directory) as url:
        app = await _opened(url, directory)
        try:
            for sample in (old, active):
                done = await legacy_import.import_legacy(app, path=sample.status_file)
                if not done.success:
                    raise RuntimeError(
                        f"the generated archive sample did not import: {done.errors}"
                    )
            reads = await _reads(app)
            before = await _time_reads(reads, iterations)
            start = time.perf_counter()
            # The active project's finished items are all younger than this.
            moved = await archive.archive_work_items(app, older_than_days=ARCHIVE_AFTER_DAYS)
            took = time.perf_counter() - start
            after = await _time_reads(reads, iterations)
        finally:
            await close_app(app)
    return moved.archived_count, took, before, after


Read = Callable[[], Awaitable[Any]]


async def _reads(app: App) -> dict[str, Read]:
    page = await work_items.list_work_items(app, status="active", limit=1)
    item = page.items[0].id
    return {
        "list_work_items": lambda: work_items.list_work_items(app),
        "query_work_item": lambda: work_items.query_work_item(app, id=item),
    }


async def _time_reads(reads: dict[str, Read], iterations: int) -> dict[str, Stats]:
    timed: dict[str, Stats] = {}
    for name, read in reads.items():
        for _ in range(max(2, iterations // 10)):
            await read()
        samples = []
        for _ in range(iterations):
            start = time.perf_counter()
            await read()
            samples.append(time.perf_counter() - start)
        timed[name] = Stats.of(samples)
    return timed
