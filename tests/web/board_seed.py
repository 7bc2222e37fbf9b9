"""A small project for the board's tests and its screenshot, made through the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worktrack.services import deployments, enhancements, notes, vendors, work_items
from worktrack.services.app import App
from worktrack.services.dependencies import add_dependency

XSS_TITLE = '<img src=x onerror="window.__pwned = 1">'
DESCRIPTION = "Make the **board** readable.\n\n<script>window.__pwned = 2</script>\n\n- one\n- two"
NOTE = "Columns **done**; next: the graph. <b>not bold</b>"
ACCEPTANCE = "- the page shows `columns`\n- nothing runs"
VENDOR_META = {
    "format_support": {"excel": True, "csv": True, "pdf": False, "ocr": False},
    "test_results": {"passing": 45, "total": 50, "skipped": 2},
}
SESSION_META = {
    "token_budget": 50_000,
    "prompts_count": 3,
    "yaml_frontmatter": {"schema_version": 1},
}


@dataclass
class Seeded:
    project: str = ""
    session: str = ""
    tasks: dict[str, str] = field(default_factory=dict)  # title -> id


async def _project(app: App, title: str) -> str:
    made = await work_items.create_work_item(
        app, item_type="project", title=title, description=f"The {title.lower()} project"
    )
    return made.id


async def _set_fields(app: App, item_id: str, **values: Any) -> None:
    current = await work_items.query_work_item(app, id=item_id)
    await work_items.update_work_item(app, id=item_id, version=current.version, **values)


async def seed(app: App, hostile: list[str] | None = None) -> Seeded:
    seeded = Seeded()
    seeded.project = await _project(app, "Board launch")
    session = await work_items.create_work_item(
        app, item_type="session", title="Week 49", parent_id=seeded.project, metadata=SESSION_META
    )
    seeded.session = session.id
    titles = ["Draw the graph", "Write the docs", XSS_TITLE, "Ship it", *(hostile or [])]
    for n, title in enumerate(titles):
        made = await work_items.create_work_item(
            app, item_type="task", title=title, parent_id=session.id, priority=n % 4
        )
        seeded.tasks[title] = made.id
    blocked = await work_items.query_work_item(app, id=seeded.tasks["Ship it"])
    await work_items.update_work_item(app, id=blocked.id, version=blocked.version, status="blocked")
    done = await work_items.query_work_item(app, id=seeded.tasks["Write the docs"])
    await work_items.update_work_item(app, id=done.id, version=done.version, status="completed")
    await add_dependency(
        app,
        source_id=seeded.tasks["Ship it"],
        target_id=seeded.tasks["Draw the graph"],
        dependency_type="depends_on",
    )
    await add_dependency(
        app,
        source_id=seeded.tasks[XSS_TITLE],
        target_id=seeded.tasks["Ship it"],
        dependency_type="blocks",
    )
    await _set_fields(
        app,
        seeded.tasks["Draw the graph"],
        description=DESCRIPTION,
        acceptance_criteria=ACCEPTANCE,
        labels=["board", "ui"],
    )
    await notes.add_note(
        app, work_item_id=seeded.tasks["Draw the graph"], text=NOTE, created_by="alice"
    )
    await vendors.create_vendor(app, name="acme", extractor_version="1.2", metadata=VENDOR_META)
    await deployments.record_deployment(
        app,
        commit_hash="a" * 40,
        metadata={
            "pr_number": 42,
            "pr_title": "Board, first cut",
            "test_summary": {"unit": 120},
            "constitutional_compliance": True,
        },
    )
    await enhancements.create_enhancement(
        app, title="Dark mode", priority=2, target_quarter="2027-Q1"
    )
    return seeded


SHOWCASE = {
    "Board": {
        "Week 49": [
            ("Read model for the board", "completed", ["backend"]),
            ("Columns by status", "in_progress", ["ui"]),
            ("Dependency graph as SVG", "active", ["ui", "graph"]),
            ("Token login with a cookie", "active", ["security"]),
            ("Browser tests in CI", "blocked", ["ci"]),
        ],
        "Week 50": [
            ("Screenshot in the README", "active", ["docs"]),
            ("Dark mode", "deferred", ["ui"]),
        ],
    },
    "Outage fallback": {
        "Replica": [
            ("Change feed watermark", "completed", ["backend"]),
            ("Replay queued writes", "in_progress", ["backend"]),
            ("Conflict report", "active", ["backend"]),
        ],
    },
}
SHOWCASE_NEEDS = [
    ("Columns by status", "Browser tests in CI"),
    ("Token login with a cookie", "Browser tests in CI"),
    ("Dependency graph as SVG", "Screenshot in the README"),
    ("Browser tests in CI", "Screenshot in the README"),
    ("Replay queued writes", "Conflict report"),
]


async def _status(app: App, item_id: str, status: str) -> None:
    current = await work_items.query_work_item(app, id=item_id)
    await work_items.update_work_item(app, id=item_id, version=current.version, status=status)


async def showcase(app: App) -> dict[str, str]:
    """A project that reads well in the README's screenshot."""
    ids: dict[str, str] = {}
    for p, (project, sessions) in enumerate(SHOWCASE.items()):
        project_id = await _project(app, project)
        for session, tasks in sessions.items():
            made = await work_items.create_work_item(
                app,
                item_type="session",
                title=session,
                parent_id=project_id,
                metadata=SESSION_META,
                priority=1 + p,
            )
            for n, (title, status, labels) in enumerate(tasks):
                task = await work_items.create_work_item(
                    app, item_type="task", title=title, parent_id=made.id, priority=n % 3
                )
                ids[title] = task.id
                await _set_fields(app, task.id, labels=labels)
                if status != "active":
                    await _status(app, task.id, status)
    for before, after in SHOWCASE_NEEDS:
        await add_dependency(
            app, source_id=ids[before], target_id=ids[after], dependency_type="blocks"
        )
    await vendors.create_vendor(app, name="acme", extractor_version="1.2", metadata=VENDOR_META)
    await deployments.record_deployment(
        app,
        commit_hash="3f2a" * 10,
        metadata={
            "pr_number": 118,
            "pr_title": "Board, first cut",
            "test_summary": {"unit": 412},
            "constitutional_compliance": True,
        },
    )
    await enhancements.create_enhancement(
        app, title="Server-sent updates", priority=2, target_quarter="2027-Q1"
    )
    return ids
