"""The status file with the six statuses: every open item is listed with its status, closed
ones are not, and the fallback layers read the file back into rows a WorkItem accepts."""

from __future__ import annotations

from datetime import UTC, datetime

from worktrack.fallback.snapshot import rows_of
from worktrack.models.work_items import WorkItem
from worktrack.report.parse import parse
from worktrack.services import reports, work_items
from worktrack.services.app import App
from worktrack.tables import ITEM_STATUSES, OPEN_STATUSES
from worktrack.tables import work_items as work_items_table


async def test_every_open_status_is_reported_and_read_back(app: App) -> None:
    root = await work_items.create_work_item(
        app, item_type="project", title="Root", description="d"
    )
    made = {
        status: await work_items.create_work_item(
            app, item_type="task", title=f"is {status}", parent_id=root.id, status=status
        )
        for status in ITEM_STATUSES
    }
    report = await reports.generate_status_report(app, detail="full")
    parsed = parse(report.markdown)
    assert parsed.errors == []
    rows = rows_of(parsed, datetime(2026, 12, 7, tzinfo=UTC))
    by_id = {row["id"]: row for row in rows[work_items_table]}
    assert {by_id[made[s].id]["status"] for s in OPEN_STATUSES} == set(OPEN_STATUSES)
    assert made["completed"].id not in by_id and made["cancelled"].id not in by_id
    for row in by_id.values():
        shown = WorkItem.model_validate({k: v for k, v in row.items() if k != "search_text"})
        assert shown.labels == [] and shown.description is None
