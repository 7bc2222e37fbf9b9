"""A benchmark run never crashes: a scenario or a maintenance measurement that fails is a
row saying why, the rest still runs, and the steps are told to the progress callback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from worktrack.bench import maintenance, report, runner, scenarios
from worktrack.bench.scenarios import Scenario
from worktrack.bench.stdio import Spawner

MISSING = "00000000-0000-4000-8000-000000000000"
WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


async def test_a_failing_scenario_and_a_failing_archive_are_rows_that_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = Scenario(
        "broken", "query_work_item", "an item nobody made", lambda _m: {"id": MISSING}, None
    )
    chosen = ("vendor_query", "broken", "create")
    monkeypatch.setattr(scenarios, "SCENARIOS", (*scenarios.SCENARIOS, broken))
    monkeypatch.setattr(scenarios, "NAMES", (*scenarios.NAMES, "broken"))
    monkeypatch.setattr(maintenance, "ARCHIVE_AFTER_DAYS", -1)  # refused by the service
    steps: list[tuple[int, int | None, str]] = []

    async def watch(done: int, total: int | None, step: str) -> None:
        steps.append((done, total, step))

    options = runner.Options(
        scale=0.05, iterations=3, warmup=1, scenarios=chosen, stdio=False, cold_starts=1
    )
    results = await runner.run(options, watch)

    rows = {m.name: m for m in results.scenarios}
    assert list(rows) == ["vendor_query", "broken", "create"]
    assert rows["broken"].error is not None and "NotFoundError" in rows["broken"].error
    assert rows["broken"].handler is None
    for name in ("vendor_query", "create"):
        assert rows[name].error is None and rows[name].handler is not None
    done = results.maintenance
    assert done is not None and done.import_seconds is not None  # the import still ran
    assert done.archive_seconds is None and "older_than_days" in done.failures["archive"]

    printed = "\n".join(report.summary(results))
    assert "| broken | an item nobody made | **failed**: RuntimeError: query_work_item" in printed
    assert "archive of old finished items: **failed**: ValidationError" in printed
    assert [total for _, total, _ in steps] == [len(steps)] * len(steps)
    assert [n for n, _, _ in steps] == list(range(len(steps)))


def test_old_items_grow_with_scale_but_stay_the_size_of_the_project() -> None:
    assert maintenance.old_items(0.05) == 500
    assert maintenance.old_items(1) == 10_000
    assert maintenance.old_items(5) == 10_000
    assert maintenance.old_items(83) == 99_600


def test_a_bench_without_a_database_says_why_in_one_line(tmp_path: Path) -> None:
    nobody = "postgresql+asyncpg://postgres@127.0.0.1:1/test"  # nothing listens there
    done = subprocess.run(
        [WORKTRACK, "bench", "--quick", "--database-url", nobody],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("worktrack: bench: could not make the seeded scratch database")
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_the_measured_servers_never_archive_by_themselves(tmp_path: Path) -> None:
    """The daily run would move seeded items in the middle of a long run."""
    settings = runner._settings("sqlite+aiosqlite:///x.db", tmp_path)
    assert settings.archive_check_seconds == 0
    assert Spawner(settings, tmp_path).env()["WORKTRACK_ARCHIVE_CHECK_SECONDS"] == "0"
