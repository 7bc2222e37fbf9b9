"""The report's per-item counts read each item's subtree, never a whole status.

SQLite plans by the indexes a condition can use: with ``status = 'completed'`` in the
count of completed descendants it walked every completed item of the database for each
listed item (142 ms at 1,200 items). The plan, not a time, is what is held here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from worktrack import migrations
from worktrack.report import queries


async def test_each_listed_items_counts_search_its_path_range(tmp_path: Path) -> None:
    path = tmp_path / "plan.db"
    await migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    statement = queries.LISTED_WORK_ITEMS.compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    with sqlite3.connect(path) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}")]
    searches = [step for step in plan if step.startswith("SEARCH below")]
    assert len(searches) == 2, plan
    assert all("ix_work_items_path (path>? AND path<?)" in step for step in searches), plan
