"""The local replica of a Postgres primary, measured on the seeded database: the first
copy, a refresh with nothing changed, a refresh after 100 changes, and the handler time of
the hot reads while refreshes run back to back (against the same reads with none).

The changes are made by one UPDATE statement of another connection (as another server
would make them), so the event loop the reads share carries only the refresh itself. The
longest step a refresh takes on the event loop is measured in the loop thread's CPU time
(what it ran between two turns of a watcher), which the machine's load does not inflate.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastmcp import Client

from worktrack.bench.measure import HandlerTiming, Stats
from worktrack.bench.scenarios import SCENARIOS, Landmarks
from worktrack.bench.scratch import _asyncpg_dsn
from worktrack.bench.servers import bench_server
from worktrack.bench.stdio import call
from worktrack.fallback.replica import Refreshed
from worktrack.fallback.storage import Fallback
from worktrack.services.app import App
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app

Progress = Callable[[str], Awaitable[None]]  # the bench's next step, named
HOT_READS = ("vendor_query", "hierarchy_leaf", "list_first_page", "ready_work")
CHANGES = 100
_ROUNDS = 10  # refreshes after CHANGES changes
_REFRESH_GAP_SECONDS = 0.05  # between back-to-back refreshes while the reads run
_CHANGE = (
    "UPDATE work_items SET title = title || '.' WHERE id = ANY($1::varchar[])"  # one statement
)


@dataclass
class ReplicaResults:
    first_copy_seconds: float
    first_copy_rows: int
    first_copy_longest_step_ms: float  # of the event loop, in its thread's CPU time
    no_change: Stats  # one refresh, nothing changed
    after_changes: Stats  # one refresh after CHANGES changed items
    after_changes_rows: int
    after_changes_longest_step_ms: float
    reads_idle: dict[str, Stats] = field(default_factory=dict)  # handler, no refresh running
    reads_refreshing: dict[str, Stats] = field(default_factory=dict)  # handler, refreshing
    refreshes_during_reads: int = 0


@dataclass(frozen=True)
class FirstCopy:
    done: Refreshed
    longest_step_ms: float


async def first_copy(settings: Settings) -> FirstCopy:
    """Copy the seeded primary into an empty replica (what a first start does)."""
    app = await open_app(settings)
    try:
        with _served():
            async with _loop_steps() as steps:
                done = await _fallback(app).replica.refresh(wait=60)
        return FirstCopy(done, max(steps) * 1000)
    finally:
        await close_app(app)


@contextlib.contextmanager
def _served() -> Iterator[None]:
    """The collector as in `worktrack serve`: what exists at start is frozen, so a full
    collection does not re-walk it (otherwise its pauses, 100–300 ms here, would be
    counted as steps of the refresh that happened to allocate when one came due)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.asynccontextmanager
async def _loop_steps() -> AsyncIterator[list[float]]:
    """The loop thread's CPU time between turns of a watcher that yields every 0.5 ms:
    how long other work held the event loop at a time."""
    steps: list[float] = [0.0]

    async def watch() -> None:
        while True:
            started = time.thread_time()
            await asyncio.sleep(0.0005)
            steps.append(time.thread_time() - started)

    watcher = asyncio.create_task(watch())
    try:
        yield steps
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def measure(
    settings: Settings,
    copied: FirstCopy,
    marks: Landmarks,
    iterations: int,
    progress: Progress,
) -> ReplicaResults:
    app = await open_app(settings)
    changer = await asyncpg.connect(_asyncpg_dsn(settings.effective_database_url))
    try:
        ids = await changer.fetch("SELECT id FROM work_items ORDER BY id LIMIT $1", CHANGES * 20)
        batches = [[row["id"] for row in ids[n : n + CHANGES]] for n in range(0, len(ids), CHANGES)]
        with _served():
            results = await _refreshes(app, changer, batches, copied, iterations, progress)
            await progress("replica: hot reads, alternately with and without refreshes running")
            await _reads(settings, marks, iterations, results, app, changer, batches)
    finally:
        await changer.close()
        await close_app(app)
    return results


async def _refreshes(
    app: App,
    changer: Any,
    batches: list[list[str]],
    copied: FirstCopy,
    iterations: int,
    progress: Progress,
) -> ReplicaResults:
    replica = _fallback(app).replica
    await progress("replica: refreshes with nothing changed")
    await replica.refresh(wait=30)
    idle = [await _timed_refresh(app) for _ in range(max(20, iterations // 5))]
    await progress(f"replica: refreshes after {CHANGES} changes")
    after, rows, longest = [], 0, 0.0
    for round_number in range(_ROUNDS):
        await changer.execute(_CHANGE, batches[round_number % len(batches)])
        async with _loop_steps() as steps:
            started = time.perf_counter()
            done = await replica.refresh(wait=30)
            after.append(time.perf_counter() - started)
        rows, longest = done.rows, max(longest, *steps)
    return ReplicaResults(
        copied.done.seconds,
        copied.done.rows,
        copied.longest_step_ms,
        Stats.of(idle),
        Stats.of(after),
        rows,
        longest * 1000,
    )


async def _timed_refresh(app: App) -> float:
    started = time.perf_counter()
    done = await _fallback(app).replica.refresh(wait=30)
    assert done.kind == "changes", done
    return time.perf_counter() - started


async def _reads(
    settings: Settings,
    marks: Landmarks,
    iterations: int,
    results: ReplicaResults,
    app: App,
    changer: Any,
    batches: list[list[str]],
) -> None:
    timing = HandlerTiming()
    chosen = [s for s in SCENARIOS if s.name in HOT_READS]
    samples: dict[tuple[str, bool], list[float]] = {}
    async with Client(bench_server(settings, timing)) as client:
        for refreshing in (False, True, False, True):  # alternating: both see one load
            refresher = None
            if refreshing:
                refresher = asyncio.create_task(_refresh_forever(app, changer, batches, results))
            try:
                for scenario in chosen:
                    found = samples.setdefault((scenario.name, refreshing), [])
                    for _ in range(max(1, iterations // 2)):
                        await call(client, scenario.tool, scenario.arguments(marks))
                        found.append(timing.last)
            finally:
                if refresher is not None:
                    refresher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await refresher
    for (name, refreshing), seconds in samples.items():
        target = results.reads_refreshing if refreshing else results.reads_idle
        target[name] = Stats.of(seconds)


async def _refresh_forever(
    app: App, changer: Any, batches: list[list[str]], results: ReplicaResults
) -> None:
    n = 0
    while True:
        await changer.execute(_CHANGE, batches[n % len(batches)])
        await _fallback(app).replica.refresh(wait=30)
        results.refreshes_during_reads += 1
        n += 1
        await asyncio.sleep(_REFRESH_GAP_SECONDS)


def _fallback(app: App) -> Fallback:
    assert isinstance(app.storage, Fallback), "the replica exists with a Postgres primary"
    return app.storage


def lines(found: ReplicaResults | None) -> list[str]:
    if found is None:
        return []
    shown = [
        f"replica: first copy {found.first_copy_rows:,} rows in {found.first_copy_seconds:.2f} s"
        f" (longest event-loop step {found.first_copy_longest_step_ms:.1f} ms); refresh with "
        f"nothing changed p50 / p95 {found.no_change.p50:.2f} / {found.no_change.p95:.2f} ms; "
        f"after {CHANGES} changed items ({found.after_changes_rows} rows) "
        f"{found.after_changes.p50:.2f} / {found.after_changes.p95:.2f} ms (longest event-loop "
        f"step {found.after_changes_longest_step_ms:.1f} ms)",
        f"hot reads, handler p50 / p95 without → while refreshes run back to back "
        f"({found.refreshes_during_reads} refreshes of {CHANGES} changes each):",
    ]
    for name, idle in found.reads_idle.items():
        busy = found.reads_refreshing[name]
        shown.append(
            f"  {name}: {idle.p50:.2f} / {idle.p95:.2f} ms → {busy.p50:.2f} / {busy.p95:.2f} ms"
        )
    return shown
