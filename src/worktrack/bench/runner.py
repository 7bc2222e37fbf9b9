"""One benchmark run: seed a scratch database, measure every chosen scenario in memory
(client and handler time) and over stdio, then the sizes, cold start and memory.

Only the setup (the scratch database and its seeding) can stop a run (``SetupFailed``).
Any later part that fails (a scenario, the stdio rounds, the maintenance measurements)
becomes a row or a line saying why, and the rest still runs."""

from __future__ import annotations

import gc
import os
import resource
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastmcp import Client

from worktrack import bulk
from worktrack.bench import (
    floors,
    machine,
    maintenance,
    page,
    portability,
    project,
    scenarios,
    scratch,
    seeding,
    sizes,
)
from worktrack.bench import replica as replica_bench
from worktrack.bench.attempt import attempt, reason
from worktrack.bench.maintenance import Maintenance
from worktrack.bench.measure import HandlerTiming, Stats
from worktrack.bench.portability import Portability
from worktrack.bench.scenarios import Landmarks, Scenario
from worktrack.bench.servers import NOOP, bench_server
from worktrack.bench.stdio import ColdStart, Spawner, call, cold_start, peak_rss_kib
from worktrack.db import source_of
from worktrack.progress import Progress, silent
from worktrack.server import create_server
from worktrack.services.app import App
from worktrack.settings import TOOLSETS, Settings
from worktrack.startup import close_app, open_app


@dataclass(frozen=True)
class Options:
    database_url: str | None = None
    scale: float = 1.0
    iterations: int = 200
    warmup: int = 20
    scenarios: tuple[str, ...] = ()
    stdio: bool = True
    cold_starts: int = 5
    maintenance: bool = True  # also time the legacy import and archiving
    portability: bool = True  # also time export and import of the seeded database
    # Reads sent to the spawned server after the scenarios, its RSS taken after the first
    # tenth and after all: memory must not grow with the number of calls.
    rss_calls: int = 10_000


@dataclass
class Measured:
    name: str
    tool: str
    what: str
    handler: Stats | None  # None: the scenario failed (``error`` says why)
    in_memory: Stats | None
    service: Stats | None
    result_chars: int
    stdio: Stats | None = None
    stdio_noop: Stats | None = None
    error: str | None = None


@dataclass
class Results:
    backend: str
    options: Options
    machine: dict[str, str]
    counts: seeding.Counts
    seed_seconds: float
    scenarios: list[Measured] = field(default_factory=list)
    cold_start: list[ColdStart] = field(default_factory=list)
    cold_start_floor: list[ColdStart] = field(default_factory=list)
    tools_list_chars: dict[str, int] = field(default_factory=dict)
    peak_rss_kib: dict[str, int] = field(default_factory=dict)
    database_floor: dict[str, Stats] = field(default_factory=dict)
    maintenance: Maintenance | None = None
    portability: Portability | None = None
    # Parts of the run that failed (not scenarios: those are rows), and why.
    failures: dict[str, str] = field(default_factory=dict)
    replica: replica_bench.ReplicaResults | None = None  # Postgres only
    result_sizes: list[sizes.ResultSize] = field(default_factory=list)
    # RSS (KiB) of the spawned server by the number of extra reads it had served.
    rss_by_calls: dict[int, int] = field(default_factory=dict)


class SetupFailed(Exception):
    """The scratch database could not be made or seeded: there is nothing to measure."""


@dataclass
class _Steps:
    """The run's steps, told to ``progress`` as they start."""

    progress: Progress
    total: int
    done: int = 0

    async def next(self, step: str) -> None:
        await self.progress(self.done, self.total, step)
        self.done += 1

    @classmethod
    def of(cls, options: Options, chosen: list[Scenario], progress: Progress) -> _Steps:
        reads = sum(1 for s in chosen if not s.write and s.page is None)
        over_stdio = (1 + reads + bool(options.rss_calls)) if options.stdio else 0
        more = 2 * options.maintenance + options.portability
        replica = 4 if options.database_url else 0  # first copy, then three measurements
        return cls(progress, 3 + len(chosen) + over_stdio + more + replica)


async def run(options: Options, progress: Progress = silent) -> Results:
    chosen = scenarios.chosen(options.scenarios)
    steps = _Steps.of(options, chosen, progress)
    with tempfile.TemporaryDirectory(prefix="worktrack-bench-") as temp:
        directory = Path(temp)
        setting_up = True
        try:
            async with scratch.database(options.database_url, directory) as url:
                await steps.next(f"seeding {source_of(url)} at scale {options.scale:g}")
                results, marks = await _seed(url, options)
                setting_up = False
                # The seeded objects are gone now: a real server does not carry them, and
                # every full garbage collection during the measurements would walk them.
                gc.collect()
                run = _Run(_settings(url, directory), directory, marks, results, steps)
                await steps.next("database floor (raw driver)")
                floor = floors.measure(url, max(20, options.iterations))
                results.database_floor = (
                    await attempt(results.failures, "database floor", floor) or {}
                )
                copied = None
                if results.backend == "postgresql":  # the servers below start with a replica
                    await steps.next("replica: first copy")
                    first = replica_bench.first_copy(run.settings)
                    copied = await attempt(results.failures, "replica first copy", first)
                await _measure(run, chosen)
                if copied is not None:
                    measured = replica_bench.measure(
                        run.settings, copied, marks, options.iterations, steps.next
                    )
                    results.replica = await attempt(results.failures, "replica", measured)
                results.machine["load average (1 min) after"] = f"{os.getloadavg()[0]:.2f}"
                if options.portability:
                    await steps.next("export and import")
                    moved = portability.measure(url, options.database_url, directory / "moves")
                    results.portability = await attempt(results.failures, "export/import", moved)
        except Exception as error:  # no seeded database, nothing to measure: say why, once
            if not setting_up:
                raise
            made = f"could not make the seeded scratch database: {reason(error)}"
            raise SetupFailed(made) from error
        if options.maintenance:
            results.maintenance = await maintenance.measure(
                options.database_url, options.scale, options.iterations, steps.next
            )
    results.peak_rss_kib["bench_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return results


async def _seed(url: str, options: Options) -> tuple[Results, Landmarks]:
    seeded = project.build(options.scale, datetime.now(UTC))
    # 100,000 rows take longer than an interactive statement may: the bulk timeout.
    engine = bulk.engine(url, Settings(database_url=url))
    try:
        start = time.perf_counter()
        counts = await seeding.seed(engine, seeded)
        took = time.perf_counter() - start
        described = await machine.describe(engine)
    finally:
        await engine.dispose()
    return Results(source_of(url), options, described, counts, took), Landmarks.of(seeded)


def _settings(url: str, directory: Path) -> Settings:
    (directory / "repo").mkdir()
    return Settings(
        database_url=url,
        home=directory / "home",
        repo=directory / "repo",
        status_file=directory / "repo" / ".project_status.md",
        actor="bench",
        toolsets=TOOLSETS,
        read_only=False,
        # The daily archive would move the seeded project's old finished items in the
        # middle of the measurements (a slow run pages for more than its first minute).
        archive_check_seconds=0,
    )


@dataclass
class _Run:
    """What every measuring step of one run uses."""

    settings: Settings
    directory: Path
    marks: Landmarks
    results: Results
    steps: _Steps
    timing: HandlerTiming = field(default_factory=HandlerTiming)

    @property
    def options(self) -> Options:
        return self.results.options


async def _measure(run: _Run, chosen: list[Scenario]) -> None:
    failures = run.results.failures
    await attempt(failures, "scenarios", _scenarios(run, chosen))
    await run.steps.next("tools/list sizes")
    await attempt(failures, "tools/list", _tools_lists(run))
    measured = {m.name for m in run.results.scenarios}
    for scenario in chosen:  # never reached: the server did not start (see failures)
        if scenario.name not in measured:
            failed = "not run: " + failures.get("scenarios", "see the failures")
            run.results.scenarios.append(_failed(scenario, failed))


async def _scenarios(run: _Run, chosen: list[Scenario]) -> None:
    app = (await open_app(run.settings)).acting_as("bench")
    server = bench_server(run.settings, run.timing)
    gc.freeze()  # as `worktrack serve` does once it has started
    try:
        async with Client(server) as client:
            if any(s.name == "list_deep_page" for s in chosen):
                found = _deep_cursor(client, run.results.counts.work_items)
                run.marks.deep_cursor = await attempt(run.results.failures, "deep cursor", found)
            reads = [s for s in chosen if not s.write]
            for scenario in reads:
                await _in_memory(run, client, app, scenario)
            measuring = sizes.measure(client, run.marks)
            measured = await attempt(run.results.failures, "result sizes", measuring)
            run.results.result_sizes = measured or []
            if run.options.stdio:
                spawner = Spawner(run.settings, run.directory)
                tools = [s for s in reads if s.page is None]  # pages are not MCP calls
                await attempt(run.results.failures, "stdio", _over_stdio(run, spawner, tools))
            for scenario in (s for s in chosen if s.write):
                await _in_memory(run, client, app, scenario)
    finally:
        gc.unfreeze()
        await close_app(app)


async def _tools_lists(run: _Run) -> None:
    run.results.tools_list_chars = {
        "all": await _tools_list_chars(run.settings),
        "work_items": await _tools_list_chars(
            run.settings.model_copy(update={"toolsets": ("work_items",)})
        ),
    }


def _failed(scenario: Scenario, error: str) -> Measured:
    return Measured(scenario.name, scenario.tool, scenario.what, None, None, None, 0, error=error)


async def _deep_cursor(client: Client[Any], total: int) -> str | None:
    """The cursor of a page near the end of the default listing, found by paging there
    (a cursor is only as good as the server that issued it)."""
    skip, cursor = max(0, total - 60), None
    while skip > 0:
        arguments: dict[str, Any] = {"limit": min(200, skip)}
        if cursor:
            arguments["cursor"] = cursor
        page = _structured(await call(client, "list_work_items", arguments))
        skip -= len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return cursor


def _structured(result: Any) -> dict[str, Any]:
    found = result.structured_content
    assert isinstance(found, dict)
    return found


def _text_chars(result: Any) -> int:
    return sum(len(getattr(block, "text", "")) for block in result.content)


async def _in_memory(run: _Run, client: Client[Any], app: App, scenario: Scenario) -> None:
    """The scenario's row: its timings, or why it failed."""
    await run.steps.next(f"in memory: {scenario.name}")
    try:
        if scenario.page is not None:
            measured = await _timed_page(run, app, scenario, scenario.page)
        else:
            measured = await _timed(run, client, app, scenario)
    except Exception as error:  # a failed scenario is a row saying why; the others run
        measured = _failed(scenario, reason(error))
    run.results.scenarios.append(measured)


async def _timed(run: _Run, client: Client[Any], app: App, scenario: Scenario) -> Measured:
    """Each round calls the tool through the client (timing the call and its handler),
    then the service it calls directly, with the same arguments."""
    handler: list[float] = []
    whole: list[float] = []
    service: list[float] = []
    chars = 0
    for n in range(run.options.warmup + run.options.iterations):
        timed = n >= run.options.warmup
        start = time.perf_counter()
        result = await call(client, scenario.tool, scenario.arguments(run.marks))
        if timed:
            whole.append(time.perf_counter() - start)
            handler.append(run.timing.last)
            chars = _text_chars(result)
        scenario.observe(run.marks, _structured(result))
        if scenario.service is not None:
            arguments = scenario.arguments(run.marks)
            start = time.perf_counter()
            answer = await scenario.service(app, **arguments)
            if timed:
                service.append(time.perf_counter() - start)
            scenario.observe(run.marks, answer.model_dump(mode="json"))
    return Measured(
        scenario.name,
        scenario.tool,
        scenario.what,
        Stats.of(handler),
        Stats.of(whole),
        Stats.of(service) if service else None,
        chars,
    )


async def _timed_page(run: _Run, app: App, scenario: Scenario, path: str) -> Measured:
    """Each round GETs the page through the board's app (its handler and in-memory time),
    then calls the service it reads through."""
    asgi = page.board_of(app)
    whole: list[float] = []
    service: list[float] = []
    chars = 0
    for n in range(run.options.warmup + run.options.iterations):
        start = time.perf_counter()
        status, body = await page.get(asgi, path)
        took = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
        assert scenario.service is not None
        start = time.perf_counter()
        await scenario.service(app, **scenario.arguments(run.marks))
        if n >= run.options.warmup:
            whole.append(took)
            service.append(time.perf_counter() - start)
            chars = len(body.decode())
    stats = Stats.of(whole)
    return Measured(
        scenario.name, scenario.tool, scenario.what, stats, stats, Stats.of(service), chars
    )


async def _over_stdio(run: _Run, spawner: Spawner, reads: list[Scenario]) -> None:
    options, marks = run.options, run.marks
    probe = {"name": marks.vendor_name}
    await run.steps.next(f"cold start ×{options.cold_starts}")
    for _ in range(options.cold_starts):  # alternating with the floor: both see one load
        floor = await cold_start(spawner.floor_server(), "ping", {})
        run.results.cold_start_floor.append(floor)
        run.results.cold_start.append(
            await cold_start(spawner.serve(), "query_vendor_status", probe)
        )
    measured = {m.name: m for m in run.results.scenarios}
    # Each read alternates with a no-op call on a twin process, so both see the same load.
    async with Client(spawner.serve()) as served, Client(spawner.noop_server()) as floor:
        for scenario in reads:
            await run.steps.next(f"over stdio: {scenario.name}")
            if measured[scenario.name].error is not None:
                continue  # it failed in memory already; its row says why
            real = floor if scenario.tool == NOOP else served
            pairs = [
                await _pair(real, floor, scenario.tool, scenario.arguments(marks))
                for _ in range(options.warmup + options.iterations)
            ][options.warmup :]
            measured[scenario.name].stdio = Stats.of([read for read, _ in pairs])
            measured[scenario.name].stdio_noop = Stats.of([noop for _, noop in pairs])
        served_peak = peak_rss_kib(" serve")  # after every read, the report included
        if served_peak is not None:
            run.results.peak_rss_kib["served_process"] = served_peak
        if options.rss_calls:
            await run.steps.next(f"memory over {options.rss_calls:,} calls")
            await _memory_over_calls(run, served, reads)


# Cheap reads (a list page at 100,000 items counts the table: minutes for 10,000 calls).
_MEMORY_READS = ("vendor_query", "hierarchy_leaf", "ready_work", "report_summary")


async def _memory_over_calls(run: _Run, served: Client[Any], reads: list[Scenario]) -> None:
    """Resident memory of the served process after a tenth of the calls and after all."""
    chosen = [s for s in reads if s.name in _MEMORY_READS] or [reads[0]]
    total = run.options.rss_calls
    checkpoints = {max(1, total // 10), total}
    for n in range(1, total + 1):
        scenario = chosen[n % len(chosen)]
        await call(served, scenario.tool, scenario.arguments(run.marks))
        if n in checkpoints:
            rss = peak_rss_kib(" serve", "VmRSS")
            if rss is not None:
                run.results.rss_by_calls[n] = rss
    peak = peak_rss_kib(" serve")
    if peak is not None:
        run.results.peak_rss_kib["served_after_calls"] = peak


async def _pair(
    served: Client[Any], floor: Client[Any], tool: str, arguments: dict[str, Any]
) -> tuple[float, float]:
    start = time.perf_counter()
    await call(floor, NOOP, {})
    middle = time.perf_counter()
    await call(served, tool, arguments)
    return time.perf_counter() - middle, middle - start


async def _tools_list_chars(settings: Settings) -> int:
    """The size of the product's tools/list result as sent (no benchmark no-op in it)."""
    async with Client(create_server(settings)) as client:
        listed = await client.list_tools_mcp()
    return len(listed.model_dump_json(by_alias=True, exclude_none=True))
