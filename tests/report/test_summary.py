"""generate_status_report's default digest (detail="summary", contract §4 Reports): what it
shows, that it stays within 8,000 characters at any project size, and that the full report
and the status file are unchanged by it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastmcp import Client

from worktrack.bench import project, seeding
from worktrack.report.parse import parse
from worktrack.report.summary import LIMIT
from worktrack.services import reports
from worktrack.services.app import App

from conftest import Backend, Clock
from helpers import call, task
from helpers import project as make_project

METADATA = {
    "format_support": {"excel": True, "csv": True, "pdf": False, "ocr": False},
    "test_results": {"passing": 3, "total": 5, "skipped": 0},
}


async def _vendor(client: Client[Any], name: str, status: str) -> None:
    await call(
        client,
        "create_vendor",
        name=name,
        extractor_version="1.0",
        metadata=METADATA,
        status=status,
    )


async def test_the_digest_shows_counts_work_in_hand_and_broken_vendors(
    client: Client[Any],
) -> None:
    root = await make_project(client, "Platform")
    await task(client, "Doing this", root, status="in_progress")
    await task(client, "Stuck on that", root, status="blocked")
    await task(client, "Ready one", root)
    await task(client, "Done one", root, status="completed")
    await _vendor(client, "Fine Co", "operational")
    await _vendor(client, "Broken Co", "broken")

    report = await call(client, "generate_status_report")
    digest = report["markdown"]
    assert digest.startswith("# Project Status - ")
    assert len(digest) <= LIMIT
    for heading in (
        "## Operational Vendors (1/2)",
        "## Active Work Items (4)",
        "## Recent Deployments (Last 0)",
        "## Future Enhancements (0)",
        "### In Progress (1)",
        "### Blocked (1)",
        "### Broken (1)",
    ):
        assert heading in digest, heading
    assert "Doing this (task)" in digest and "Stuck on that (task)" in digest
    ready = await call(client, "ready_work")
    assert ready["items"], "the seeded project has ready work"
    for item in ready["items"]:
        assert item["id"] in digest
    assert "**Broken Co**: broken" in digest and "Fine Co" not in digest
    assert "Done one" not in digest and "## Changes Since" not in digest
    assert report["counts"]["active_work_items"] == 4 and report["path"] is None


async def test_since_adds_what_changed(client: Client[Any], clock: Clock) -> None:
    root = await make_project(client, "Platform")
    since = clock.now.isoformat()
    clock.advance(minutes=5)
    await task(client, "New one", root)
    digest = (await call(client, "generate_status_report", since=since))["markdown"]
    assert f"## Changes Since {since}" in digest
    assert "### Created (1)" in digest and "New one (task)" in digest


async def test_full_is_the_whole_report_and_the_file_always_gets_it(
    client: Client[Any], backend: Backend
) -> None:
    root = await make_project(client, "Platform")
    await task(client, "Listed in full", root)
    full = await call(client, "generate_status_report", detail="full")
    assert [i.title for i in parse(full["markdown"]).work_items] == ["Platform", "Listed in full"]

    written = await call(client, "generate_status_report", write_file=True)
    stored = backend.settings().status_path.read_text(encoding="utf-8")
    assert written["markdown"] != stored and "Digest" in written["markdown"]
    assert parse(stored).errors == []
    assert [i.title for i in parse(stored).work_items] == ["Platform", "Listed in full"]


async def test_long_and_hostile_titles_stay_within_the_bound(client: Client[Any]) -> None:
    root = await make_project(client, "Platform")
    title = "\u202e" * 190  # each shown as \u202e: six characters for one
    for n in range(40):
        await task(client, f"{n} {title}", root, status="in_progress")
        await task(client, f"{n} {title}", root, status="blocked")
    digest = (await call(client, "generate_status_report"))["markdown"]
    assert len(digest) <= LIMIT
    assert "### In Progress (40)" in digest and "### Blocked (40)" in digest
    assert "more" in digest and "\u202e" not in digest


@pytest.mark.parametrize("scale", [1, 17])  # 1,200 items; 20,400 items
async def test_the_digest_is_bounded_at_every_size(app: App, scale: int) -> None:
    seeded = project.build(scale, datetime.now(UTC))
    await seeding.seed(app.db.engine, seeded)
    digest = await reports.generate_status_report(app)
    full = await reports.generate_status_report(app, detail="full")
    assert len(digest.markdown) <= LIMIT < len(full.markdown)
    assert digest.counts == full.counts
    assert f"## Active Work Items ({digest.counts.active_work_items})" in digest.markdown
    in_progress = sum(1 for i in parse(full.markdown).work_items if i.status == "in_progress")
    assert f"### In Progress ({in_progress})" in digest.markdown
