"""One benchmark run: seed a scratch database, measure every chosen scenario in memory
(client and handler time) and over stdio, then the sizes, cold start and memory."""

from __future__ import annotations

import gc
import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastmcp import Client

from worktrack.bench import floors, machine, maintenance, project, scenarios, scratch, seeding
from worktrack.bench import replica as replica_bench
from worktrack.bench.maintenance import Maintenance
from worktrack.bench.measure import HandlerTiming, Stats
from worktrack.bench.scenarios import Landmarks, Scenario
from worktrack.bench.servers import NOOP, bench_server
from worktrack.bench.stdio import ColdStart, Spawner, call, cold_start, peak_rss_kib
from worktrack.db import create_engine, source_of
from worktrack.server import create_server
from worktrack.services.app import App
from worktrack.settings import TOOLSETS, Settings
from worktrack.startup import close_app, open_app

Progress = Callable[[str], None]


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


@dataclass
class Measured:
    name: str
    tool: str
    what: str
    handler: Stats
    in_memory: Stats
    service: Stats | None
    result_chars: int
    stdio: Stats | None = None
    stdio_noop: Stats | None = None


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
    replica: replica_bench.ReplicaResults | None = None  # Postgres only


async def run(options: Options, progress: Progress = lambda _line: None) -> Results:
    chosen = scenarios.chosen(options.scenarios)
    with tempfile.TemporaryDirectory(prefix="worktrack-bench-") as temp:
        directory = Path(temp)
        async with scratch.database(options.database_url, directory) as url:
            progress(f"seeding {source_of(url)} at scale {options.scale:g}")
            results, marks = await _seed(url, options)
            progress(
                f"seeded {results.counts.work_items} work items in {results.seed_seconds:.1f} s"
            )
            # The seeded objects are gone now: a real server does not carry them, and
            # every full garbage collection during the measurements would walk them.
            gc.collect()
            run = _Run(_settings(url, directory), directory, marks, results, progress)
            progress("database floor (raw driver)")
            results.database_floor = await floors.measure(url, max(20, options.iterations))
            copied = None
            if results.backend == "postgresql":  # the servers below start with a replica
                progress("replica: first copy")
                copied = await replica_bench.first_copy(run.settings)
            await _measure(run, chosen)
            if copied is not None:
                results.replica = await replica_bench.measure(
                    run.settings, copied, marks, options.iterations, progress
                )
            results.machine["load average (1 min) after"] = f"{os.getloadavg()[0]:.2f}"
        if options.maintenance:
            progress("maintenance: legacy import, then archiving old items")
            results.maintenance = await maintenance.measure(
                options.database_url, options.scale, options.iterations
            )
    results.peak_rss_kib["bench_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return results


async def _seed(url: str, options: Options) -> tuple[Results, Landmarks]:
    seeded = project.build(options.scale, datetime.now(UTC))
    engine = create_engine(url)
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
    )


@dataclass
class _Run:
    """What every measuring step of one run uses."""

    settings: Settings
    directory: Path
    marks: Landmarks
    results: Results
    progress: Progress
    timing: HandlerTiming = field(default_factory=HandlerTiming)

    @property
    def options(self) -> Options:
        return self.results.options


async def _measure(run: _Run, chosen: list[Scenario]) -> None:
    app = (await open_app(run.settings)).acting_as("bench")
    server = bench_server(run.settings, run.timing)
    gc.freeze()  # as `worktrack serve` does once it has started
    try:
        async with Client(server) as client:
            if any(s.name == "list_deep_page" for s in chosen):
                run.marks.deep_cursor = await _deep_cursor(client, run.results.counts.work_items)
            reads = [s for s in chosen if not s.write]
            for scenario in reads:
                await _in_memory(run, client, app, scenario)
            if run.options.stdio:
                await _over_stdio(run, Spawner(run.settings, run.directory), reads)
            for scenario in (s for s in chosen if s.write):
                await _in_memory(run, client, app, scenario)
    finally:
        gc.unfreeze()
        await close_app(app)
    run.results.tools_list_chars = {
        "all": await _tools_list_chars(run.settings),
        "work_items": await _tools_list_chars(
            run.settings.model_copy(update={"toolsets": ("work_items",)})
        ),
    }


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
    """Each round calls the tool through the client (timing the call and its handler),
    then the service it calls directly, with the same arguments."""
    run.progress(f"in memory: {scenario.name}")
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
    run.results.scenarios.append(
        Measured(
            scenario.name,
            scenario.tool,
            scenario.what,
            Stats.of(handler),
            Stats.of(whole),
            Stats.of(service) if service else None,
            chars,
        )
    )


async def _over_stdio(run: _Run, spawner: Spawner, reads: list[Scenario]) -> None:
    options, marks = run.options, run.marks
    probe = {"name": marks.vendor_name}
    for n in range(options.cold_starts):  # alternating with the floor: both see one load
        run.progress(f"cold start {n + 1}/{options.cold_starts}")
        floor = await cold_start(spawner.floor_server(), "ping", {})
        run.results.cold_start_floor.append(floor)
        run.results.cold_start.append(
            await cold_start(spawner.serve(), "query_vendor_status", probe)
        )
    measured = {m.name: m for m in run.results.scenarios}
    # Each read alternates with a no-op call on a twin process, so both see the same load.
    async with Client(spawner.serve()) as served, Client(spawner.noop_server()) as floor:
        for scenario in reads:
            run.progress(f"over stdio: {scenario.name}")
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
