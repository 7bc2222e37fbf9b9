"""The rows the benchmark inserts in bulk are the rows the services store for the same
input: same columns, same derived values (path, depth, search text, stored metadata),
same change-log rows. Each entity is created once through its service and once through
the benchmark's rows, then the two stored copies are compared (ids mapped)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select

from worktrack.bench import project, seeding
from worktrack.bench.project import Deployment, Enhancement, Item, Link, Project, Vendor
from worktrack.services import deployments, enhancements, vendors, work_items
from worktrack.services.app import App
from worktrack.services.dependencies import add_dependency
from worktrack.tables import (
    change_log,
    dependencies,
    deployment_vendors,
    deployment_work_items,
    enhancement_dependencies,
)
from worktrack.tables import deployments as deployments_table
from worktrack.tables import enhancements as enhancements_table
from worktrack.tables import vendors as vendors_table
from worktrack.tables import (
    work_items as work_items_table,
)

from conftest import Clock

ACTOR = "tester"
VENDOR_META = {
    "format_support": {"excel": True, "csv": False, "pdf": True, "ocr": False},
    "test_results": {"passing": 40, "total": 45, "skipped": 2},
    "manifest_compliant": True,
}
DEPLOY_META = {
    "pr_number": 7,
    "pr_title": "Ship it",
    "test_summary": {"unit": 3},
    "constitutional_compliance": True,
}


def _new_id() -> str:
    return str(uuid.uuid4())


async def _rows(app: App, table: Table, column: str, value: str) -> list[dict[str, Any]]:
    query = select(table).where(table.c[column] == value)
    async with app.db.engine.connect() as conn:
        found = [row._asdict() for row in await conn.execute(query)]
    if table is change_log:  # its own serial id differs
        for row in found:
            del row["id"]
    return sorted(found, key=lambda row: json.dumps(row, sort_keys=True, default=str))


def _renamed(rows: list[dict[str, Any]], ids: dict[str, str]) -> str:
    text = json.dumps(rows, sort_keys=True, default=str)
    for old, new in ids.items():
        text = text.replace(old, new)
    return text


async def _same(
    app: App, ids: dict[str, str], *tables: tuple[Table, str], renamed: dict[str, str] | None = None
) -> None:
    """Every row keyed by a service-made id equals the row keyed by its bench twin, once
    the ids (and what ``renamed`` names) are mapped to the twin's."""
    for table, column in tables:
        compared = 0
        for made, twin in ids.items():
            by_service = await _rows(app, table, column, made)
            by_bench = await _rows(app, table, column, twin)
            mapped = _renamed(by_service, ids | (renamed or {}))
            assert mapped == json.dumps(by_bench, sort_keys=True, default=str), table.name
            compared += len(by_bench)
        assert compared, f"no {table.name} rows to compare"


def _only(**parts: Any) -> Project:
    return Project(
        levels=parts.get("levels", []),
        links=parts.get("links", []),
        vendors=parts.get("vendors", []),
        deployments=parts.get("deployments", []),
        enhancements=parts.get("enhancements", []),
    )


async def test_work_item_and_dependency_rows_match_the_services(app: App, clock: Clock) -> None:
    meta = {"target_quarter": "2027-Q1"}
    root = await work_items.create_work_item(
        app, item_type="project", title="Root", description="the project", metadata=meta
    )
    child = await work_items.create_work_item(
        app,
        item_type="task",
        title="Child ü",
        parent_id=root.id,
        status="blocked",
        priority=0,
        metadata={"estimated_hours": 2, "blocked_reason": "waiting"},
        branch_name="feature/x",
        commit_hash="a" * 40,
        pr_number=12,
    )
    link = await add_dependency(
        app, source_id=root.id, target_id=child.id, dependency_type="blocks"
    )
    twin_root = Item(
        _new_id(),
        "project",
        "Root",
        None,
        "active",
        2,
        meta,
        None,
        None,
        None,
        root.created_at,
        description="the project",
    )
    twin_child = Item(
        _new_id(),
        "task",
        "Child ü",
        twin_root,
        "blocked",
        0,
        {"estimated_hours": 2, "blocked_reason": "waiting"},
        "feature/x",
        "a" * 40,
        12,
        child.created_at,
    )
    twin_link = Link(twin_root.id, twin_child.id, "blocks", link.created_at)
    seeded = _only(levels=[[twin_root], [twin_child]], links=[twin_link])
    await seeding.seed(app.db.engine, seeded, actor=ACTOR)
    ids = {root.id: twin_root.id, child.id: twin_child.id}
    await _same(
        app,
        ids,
        (work_items_table, "id"),
        (change_log, "entity_id"),
        (dependencies, "source_id"),
    )


async def test_vendor_deployment_and_enhancement_rows_match_the_services(
    app: App, clock: Clock
) -> None:
    vendor = await vendors.create_vendor(
        app, name="acme", extractor_version="2.1", metadata=VENDOR_META, status="broken"
    )
    item = await work_items.create_work_item(app, item_type="task", title="t")
    shipped = await deployments.record_deployment(
        app,
        commit_hash="b" * 40,
        metadata=DEPLOY_META,
        affected_vendor_ids=[vendor.id],
        related_work_item_ids=[item.id],
    )
    first = await enhancements.create_enhancement(
        app, title="E1", description="d\nmore", priority=2, target_quarter="2027-Q2"
    )
    second = await enhancements.create_enhancement(
        app,
        title="E2",
        status="approved",
        requires_constitutional_principles=["Test-first"],
        depends_on_ids=[first.id],
    )
    twin_vendor = Vendor(_new_id(), "acme2", "broken", "2.1", VENDOR_META, vendor.created_at)
    twin_item = Item(
        _new_id(), "task", "t", None, "active", 2, {}, None, None, None, item.created_at
    )
    twin_shipped = Deployment(
        _new_id(), shipped.deployed_at, "b" * 40, DEPLOY_META, [twin_vendor.id], [twin_item.id]
    )
    twin_first = Enhancement(
        _new_id(), "E1", "d\nmore", 2, "planned", "2027-Q2", [], [], first.created_at
    )
    twin_second = Enhancement(
        _new_id(), "E2", "", 3, "approved", "", ["Test-first"], [twin_first.id], second.created_at
    )
    seeded = _only(
        levels=[[twin_item]],
        vendors=[twin_vendor],
        deployments=[twin_shipped],
        enhancements=[twin_first, twin_second],
    )
    await seeding.seed(app.db.engine, seeded, actor=ACTOR)
    ids = {
        vendor.id: twin_vendor.id,
        item.id: twin_item.id,
        shipped.id: twin_shipped.id,
        first.id: twin_first.id,
        second.id: twin_second.id,
    }
    # The vendor's name differs (names are unique); everything else must not.
    await _same(
        app,
        ids,
        (vendors_table, "id"),
        (change_log, "entity_id"),
        (deployments_table, "id"),
        (deployment_vendors, "deployment_id"),
        (deployment_work_items, "deployment_id"),
        (enhancements_table, "id"),
        (enhancement_dependencies, "enhancement_id"),
        renamed={'"acme"': '"acme2"'},
    )


def test_the_project_is_repeatable_and_its_links_close_no_cycle() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    one, two = project.build(0.2, now), project.build(0.2, now)
    assert [i.id for i in one.items] == [i.id for i in two.items]
    assert [len(level) for level in one.levels] == [1, 3, 16, 48, 80, 92]
    order = {item.id: n for n, item in enumerate(one.items)}
    for link in one.links:  # "a before b" always runs forward in creation order
        first, then = (
            (link.source_id, link.target_id)
            if link.dependency_type == "blocks"
            else (link.target_id, link.source_id)
        )
        assert order[first] < order[then]
