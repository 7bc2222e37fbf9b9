"""The benchmark's no-op tool lives only on the benchmark's own server; the handler
timing sees each call; the statistics and targets read as documented."""

from __future__ import annotations

from typing import Any

from fastmcp import Client

from worktrack.bench.measure import HandlerTiming, Stats
from worktrack.bench.servers import NOOP, bench_server
from worktrack.bench.targets import TARGETS, applying
from worktrack.server import create_server

from conftest import Backend


async def _names(client: Client[Any]) -> set[str]:
    return {tool.name for tool in await client.list_tools()}


async def test_the_noop_tool_is_never_in_the_products_tools_list(backend: Backend) -> None:
    async with Client(create_server(backend.settings())) as product:
        product_tools = await _names(product)
    timing = HandlerTiming()
    async with Client(bench_server(backend.settings(), timing)) as bench:
        assert await _names(bench) == product_tools | {NOOP}
        result = await bench.call_tool_mcp(NOOP, {})
        assert result.structured_content == {"ok": True}
        assert timing.last > 0
    assert NOOP not in product_tools


def test_stats_are_nearest_rank_percentiles_in_milliseconds() -> None:
    stats = Stats.of([n / 1000 for n in range(100, 0, -1)])  # 1..100 ms, unsorted
    assert (stats.n, stats.p50, stats.p95, stats.max) == (100, 50.0, 95.0, 100.0)
    assert round(stats.mean, 9) == 50.5


def test_targets_apply_at_the_size_and_database_they_were_set_for() -> None:
    realistic_pg = {(t.what, t.limit) for t in applying("postgresql", 1)}
    realistic_sqlite = {(t.what, t.limit) for t in applying("sqlite", 1)}
    large = {(t.what, t.limit) for t in applying("sqlite", 83)}
    large_pg = {(t.what, t.limit) for t in applying("postgresql", 83)}
    assert ("vendor_query", 1) in realistic_pg & realistic_sqlite & large & large_pg
    assert {("hierarchy_root", 3), ("report", 20)} <= realistic_sqlite
    assert {("hierarchy_root", 10), ("report", 200), ("list_first_page", 10)} <= large
    assert ("report", 100) in large_pg - large  # the full report on Postgres (issue 15)
    assert ("report", 20) not in large and ("read_results", 5000) not in large
    assert ("report_summary", 8000) in realistic_pg & large
    assert all(t.applies("sqlite", 83) for t in TARGETS if t.measure == "tokens")
