"""``worktrack bench --quick`` runs end to end on both databases and reports every
scenario. It proves the benchmark works; it does not judge the timings."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from worktrack.bench.scenarios import NAMES, SCENARIOS

from conftest import ADMIN_URL, _asyncpg_dsn

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))
# Tool reads are also timed over stdio; a page of the board is not an MCP call.
READS = [s.name for s in SCENARIOS if not s.write and s.page is None]
STATS = {"n", "p50", "p95", "max", "mean"}


def _bench(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    out = tmp_path / "bench-results.json"
    process = subprocess.Popen(
        [WORKTRACK, "bench", "--quick", "--json", str(out), *extra],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    return process, stdout, json.loads(out.read_text())


def _check(stdout: str, results: dict[str, Any], backend: str) -> None:
    rows = {line.split("|")[1].strip() for line in stdout.splitlines() if line.startswith("| ")}
    assert set(NAMES) <= rows
    assert results["backend"] == backend
    measured = {m["name"]: m for m in results["scenarios"]}
    assert list(measured) == [s.name for s in SCENARIOS if not s.write] + [
        s.name for s in SCENARIOS if s.write
    ]
    for name, m in measured.items():
        assert set(m["handler"]) == STATS and m["handler"]["n"] == 10, name
        assert set(m["in_memory"]) == STATS and m["in_memory"]["n"] == 10, name
        assert (m["service"] is None) == (name == "noop"), name
        assert (m["stdio"] is not None) == (name in READS), name
        assert m["result_chars"] > 0, name
    assert results["counts"]["work_items"] > 0
    assert len(results["cold_start"]) == len(results["cold_start_floor"]) == 1
    assert set(results["tools_list_chars"]) == {"all", "work_items"}
    assert set(results["database_floor"]) == {"round_trip", "insert_commit"}
    assert results["peak_rss_kib"]["served_process"] > 0
    done = results["maintenance"]
    assert done["import_seconds"] > 0 and done["import_counts"]["work_items"] == 60
    assert done["archived"] == 500  # every old finished item of the quick sample moved
    for reads in (done["reads_before"], done["reads_after"]):
        assert set(reads) == {"list_work_items", "query_work_item"}
    assert "legacy import (" in stdout and "archive of 500 old finished items" in stdout
    moved = results["portability"]
    assert moved["identical"] is True and moved["rows"] > results["counts"]["work_items"]
    expected = ["export from sqlite", "import into sqlite", "export from sqlite"]
    if backend == "postgresql":
        expected = ["export from postgresql", *expected[1:], "import into postgresql"]
    assert [what for what, _seconds in moved["steps"]] == expected
    assert "export / import of " in stdout and "the exports match: yes" in stdout
    assert results["failures"] == {}
    judged = {(t["what"], t["measure"]) for t in results["targets"]}
    assert ("cold_start", "seconds") in judged
    assert ("tools_list_work_items", "tokens") in judged
    assert all(t["value"] is not None for t in results["targets"])


def test_quick_bench_on_sqlite(tmp_path: Path) -> None:
    _process, stdout, results = _bench(tmp_path)
    _check(stdout, results, "sqlite")
    assert results["machine"]["database"].startswith("SQLite")


async def _scratch_databases(pid: int) -> list[str]:
    conn = await asyncpg.connect(_asyncpg_dsn(ADMIN_URL))
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"worktrack_bench_{pid}_%"
        )
    finally:
        await conn.close()
    return [row["datname"] for row in rows]


@pytest.mark.postgres
def test_quick_bench_on_postgres_drops_its_scratch_database(tmp_path: Path) -> None:
    process, stdout, results = _bench(tmp_path, "--database-url", ADMIN_URL)
    _check(stdout, results, "postgresql")
    assert results["machine"]["database"].startswith("PostgreSQL")
    assert asyncio.run(_scratch_databases(process.pid)) == []


def test_unknown_scenario_and_non_postgres_url_are_refused(tmp_path: Path) -> None:
    for extra in (["--scenario", "nope"], ["--database-url", "sqlite+aiosqlite:///x.db"]):
        done = subprocess.run(
            [WORKTRACK, "bench", "--quick", *extra],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "Invalid value" in done.stderr
