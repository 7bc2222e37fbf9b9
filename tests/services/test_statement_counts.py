"""The hot read paths issue a fixed number of SQL statements, however much data there is:
no per-row queries. Statements are counted as the driver receives them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from worktrack.bench import project, seeding
from worktrack.bench.project import Project
from worktrack.services import readiness, reports, work_items
from worktrack.services.app import App

from helpers import counting

Call = Callable[[App, Project], Awaitable[Any]]


async def _second_page(app: App, _seeded: Project) -> Any:
    first = await work_items.list_work_items(app, limit=5)
    assert first.next_cursor is not None
    return await work_items.list_work_items(app, cursor=first.next_cursor)


CALLS: dict[str, Call] = {
    "hierarchy from a leaf": lambda app, p: work_items.query_work_item(app, id=p.levels[5][0].id),
    "hierarchy from a root": lambda app, p: work_items.query_work_item(app, id=p.levels[0][0].id),
    "list, summary": lambda app, _p: work_items.list_work_items(app),
    "list, full": lambda app, _p: work_items.list_work_items(app, detail="full"),
    "list, text search": lambda app, _p: work_items.list_work_items(app, text="parse"),
    "list, cursor page": _second_page,
    "ready work": lambda app, _p: readiness.ready_work(app),
    "blocked work": lambda app, _p: readiness.blocked_work(app),
    "status report": lambda app, _p: reports.generate_status_report(app, detail="full"),
    "status report digest": lambda app, _p: reports.generate_status_report(app),
}


async def _statements(app: App, seeded: Project) -> dict[str, int]:
    counts = {}
    for name, run in CALLS.items():
        await run(app, seeded)  # a first call may prepare what later calls reuse
        with counting(app) as statements:
            await run(app, seeded)
        counts[name] = len(statements)
    return counts


async def test_hot_paths_issue_the_same_statements_for_10x_the_data(app: App) -> None:
    now = datetime.now(UTC)
    small = project.build(0.05, now, seed=1)
    await seeding.seed(app.db.engine, small)
    before = await _statements(app, small)

    larger = project.build(0.5, now, seed=2)  # ten times the rows; a root has 10x below it
    larger.vendors = [replace(v, name=f"{v.name}-larger") for v in larger.vendors]
    await seeding.seed(app.db.engine, larger)
    after = await _statements(app, larger)

    assert after == before
    # The digest reads counts and the rows it lists, and ready_work's few.
    digest = before.pop("status report digest")
    assert digest < before["status report"] + before["ready work"], digest
    assert max(before.values()) <= 9, before  # the full report: BEGIN, 7 reads, the graph
