"""The status report rendered from a real database: the exact layout, what is listed, and a
bounded number of SQL statements however much data there is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from worktrack.report import render
from worktrack.report.model import Snapshot, WorkItem, supported_formats
from worktrack.report.parse import parse
from worktrack.services import claims, dependencies, reports, work_items
from worktrack.services.app import App

from conftest import Clock
from helpers import counting
from rows import deployment, enhancement, insert_rows, vendor

EXPECTED = Path(__file__).with_name("expected_status.md")
PROJECT, SESSION, PARSE, DONE, BLOCKED, SURVEY, GONE = (
    f"10000000-0000-4000-8000-00000000000{n}" for n in range(1, 8)
)
ACME, BETA = "30000000-0000-4000-8000-000000000001", "30000000-0000-4000-8000-000000000002"
OLDER, NEWER = "20000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000002"
DEPLOYED = "20000000-0000-4000-8000-000000000003"
OCR, CURRENCY, SHIPPED = (f"40000000-0000-4000-8000-00000000000{n}" for n in range(1, 4))
SESSION_META = {
    "token_budget": 50_000,
    "prompts_count": 0,
    "yaml_frontmatter": {"schema_version": "1"},
}


async def _item(app: App, clock: Clock, id: str, item_type: str, title: str, **extra: Any) -> None:
    clock.advance(minutes=1)
    await work_items.create_work_item(app, id=id, item_type=item_type, title=title, **extra)


async def small_project(app: App, clock: Clock) -> None:
    """2 vendors; a 3-level tree whose completed session holds an active task; 2 deployments;
    2 enhancements (and one completed, one deleted and one completed item left out)."""
    await _item(
        app,
        clock,
        PROJECT,
        "project",
        "Invoice platform",
        priority=1,
        description="parse every invoice",
    )
    await _item(
        app,
        clock,
        SESSION,
        "session",
        "Parser **session** (project)",
        parent_id=PROJECT,
        metadata=SESSION_META,
    )
    await _item(
        app,
        clock,
        PARSE,
        "task",
        "Parse <!-- PDFs --> \\ fast",
        parent_id=SESSION,
        branch_name="feature/parse-pdf",
        labels=["pdf", "q4"],
    )
    await _item(app, clock, DONE, "task", "Done already", parent_id=SESSION, status="completed")
    await _item(
        app,
        clock,
        BLOCKED,
        "task",
        "Blocked on VAT",
        parent_id=PROJECT,
        status="blocked",
        priority=0,
    )
    await _item(app, clock, SURVEY, "research", "Survey\ttools", priority=3)
    await _item(app, clock, GONE, "task", "Deleted work")
    await work_items.update_work_item(app, id=SESSION, version=1, status="completed")
    await work_items.update_work_item(app, id=GONE, version=1, deleted=True)
    await dependencies.add_dependency(
        app, source_id=BLOCKED, target_id=PARSE, dependency_type="depends_on"
    )
    await claims.claim_work_item(app, id=PARSE, claimed_by="alice, the bot", lease_minutes=60)
    await claims.claim_work_item(app, id=SURVEY, claimed_by="bob", lease_minutes=1)
    clock.advance(minutes=2)  # bob's lease has ended: the report does not show it
    await insert_rows(
        app,
        vendor_rows=[
            vendor(
                BETA,
                "Beta, Inc.",
                status="broken",
                tests=(10, 60, 0),
                formats={"excel": False, "csv": False},
                extractor_version="0.9.0",
            ),
            vendor(ACME, "acme Parsers", formats={"xml": True, "json": False}),
        ],
        deployment_rows=[
            deployment(
                OLDER,
                datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
                pr_number=106,
                pr_title="Parse PDFs",
            ),
            deployment(
                NEWER,
                datetime(2026, 11, 21, 9, 15, tzinfo=UTC),
                pr_number=107,
                pr_title="Ship **bold**",
                tests={"unit": 12},
                compliant=False,
            ),
        ],
        links=[(OLDER, BETA), (OLDER, ACME)],
        enhancement_rows=[
            enhancement(CURRENCY, "Multi-currency", priority=2, status="approved"),
            enhancement(
                OCR,
                "Faster OCR",
                priority=2,
                target_quarter="2027-Q1",
                description="\nUse the GPU.\nSecond line.",
            ),
            enhancement(SHIPPED, "Shipped already", priority=1, status="completed"),
        ],
    )


async def test_report_matches_the_checked_in_file_on_both_databases(app: App, clock: Clock) -> None:
    await small_project(app, clock)
    report = await reports.generate_status_report(app, detail="full")
    assert report.markdown == EXPECTED.read_text(encoding="utf-8")
    assert report.path is None and report.data_source == app.db.source
    assert dict(report.counts) == {
        "vendors": 2,
        "operational_vendors": 1,
        "active_work_items": 5,
        "deployments": 2,
        "enhancements": 2,
    }


async def test_the_report_reads_back_with_ids_versions_and_the_tree(app: App, clock: Clock) -> None:
    await small_project(app, clock)
    parsed = parse((await reports.generate_status_report(app, detail="full")).markdown)
    assert parsed.errors == []
    assert [(v.id, v.name, v.version) for v in parsed.vendors] == [
        (ACME, "acme Parsers", 1),
        (BETA, "Beta, Inc.", 1),
    ]
    items = {item.id: item for item in parsed.work_items}
    assert list(items) == [PROJECT, BLOCKED, SESSION, PARSE, SURVEY]
    assert items[PARSE].parent_id == SESSION and items[SESSION].parent_id == PROJECT
    assert items[PARSE].title == "Parse <!-- PDFs --> \\ fast"
    assert items[SESSION].status == "completed" and items[SESSION].version == 2
    assert items[SURVEY].title == "Survey\ttools" and items[SURVEY].parent_id is None
    assert [d.vendors for d in parsed.deployments] == [(), ("acme Parsers", "Beta, Inc.")]
    assert [e.id for e in parsed.enhancements] == [OCR, CURRENCY]


async def test_changes_since_lists_completed_created_blocked_and_deployments(
    app: App, clock: Clock
) -> None:
    await small_project(app, clock)
    since = clock.now
    clock.advance(minutes=1)
    await work_items.update_work_item(app, id=PARSE, version=1, status="blocked")
    await work_items.update_work_item(app, id=PARSE, version=2, status="completed")
    fresh = await work_items.create_work_item(
        app, item_type="task", title="Fresh", parent_id=PROJECT
    )
    await insert_rows(app, deployment_rows=[deployment(DEPLOYED, clock.now, pr_number=108)])

    report = await reports.generate_status_report(app, since=since.isoformat(), detail="full")
    parsed = parse(report.markdown)
    assert parsed.errors == [] and parsed.changes_since == since
    kinds = [(change.kind, change.text.split(" UTC - ")[1]) for change in parsed.changes]
    assert kinds == [
        ("completed", "Parse <!-- PDFs --> \\ fast (task)"),
        ("created", "Fresh (task)"),
        ("blocked", "Parse <!-- PDFs --> \\ fast (task)"),
        ("deployments", "PR #108: Ship it"),
    ]
    assert [change.id for change in parsed.changes] == [PARSE, fresh.id, PARSE, DEPLOYED]
    assert (
        "## Changes Since"
        not in (await reports.generate_status_report(app, detail="full")).markdown
    )


def test_tree_roots_items_whose_parent_is_not_listed_and_survives_a_parent_loop() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def item(id: str, parent: str | None) -> WorkItem:
        return WorkItem(id, 1, id, "task", "active", parent, at, None)

    listed = [item("a", None), item("b", "a"), item("c", "gone"), item("x", "y"), item("y", "x")]
    assert [(depth, i.id) for depth, i in render.tree(listed)] == [
        (0, "a"),
        (1, "b"),
        (0, "c"),
        (0, "x"),
        (1, "y"),
    ]


def test_format_flags_standard_first_then_the_rest_sorted_and_a_flag_named_none() -> None:
    empty = Snapshot(vendors=[], work_items=[], deployments=[], enhancements=[])
    assert "## Operational Vendors (0/0)" in render.render(empty, datetime.now(UTC))
    flags = {"zip": True, "ocr": True, "excel": True, "none": True, "pdf": False, "a": 1}
    assert supported_formats(flags) == ("excel", "ocr", "none", "zip")


async def _grow(app: App, clock: Clock, numbers: range) -> None:
    for n in numbers:
        root = await work_items.create_work_item(
            app, item_type="project", title=f"P{n}", description="d"
        )
        child = await work_items.create_work_item(
            app, item_type="task", title=f"T{n}", parent_id=root.id, status="completed"
        )
        await work_items.create_work_item(app, item_type="task", title=f"L{n}", parent_id=child.id)
        await insert_rows(
            app,
            vendor_rows=[vendor(f"31000000-0000-4000-8000-{n:012d}", f"V{n}")],
            deployment_rows=[deployment(f"21000000-0000-4000-8000-{n:012d}", clock.now)],
            links=[(f"21000000-0000-4000-8000-{n:012d}", f"31000000-0000-4000-8000-{n:012d}")],
            enhancement_rows=[enhancement(f"41000000-0000-4000-8000-{n:012d}", f"E{n}")],
        )


async def test_the_read_model_runs_the_same_statements_for_10x_the_data(
    app: App, clock: Clock
) -> None:
    since = (clock.now - timedelta(days=1)).isoformat()
    counts = []
    for numbers in (range(3), range(3, 30)):  # 3 rows of each kind, then 30
        await _grow(app, clock, numbers)
        for given in (None, since):
            with counting(app) as statements:
                report = await reports.generate_status_report(app, since=given, detail="full")
            counts.append(len(statements))
        assert report.counts.vendors == numbers.stop
    assert counts[0] == counts[2] and counts[1] == counts[3], counts
    # BEGIN or SET TRANSACTION, 7 queries and the graph's edges; 2 more for since
    assert counts[:2] == [9, 11], counts
