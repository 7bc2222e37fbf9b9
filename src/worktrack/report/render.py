"""The read model as the markdown status file (contract §6).

All escaping happens here, value by value (``escape``), so the template only lays out
lines. The template is compiled once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

from worktrack.hierarchy import percent_complete
from worktrack.models.work_items import claim_holds
from worktrack.report import mermaid
from worktrack.report.escape import inline, list_item
from worktrack.report.model import Change, Deployment, Enhancement, Snapshot, Vendor, WorkItem

if TYPE_CHECKING:
    import jinja2

INDENT = "  "
CHANGE_TITLES = {"completed": "Completed", "created": "Created", "blocked": "Blocked"}


@functools.cache
def _template() -> jinja2.Template:
    # Imported on the first report, not at start-up: jinja2 is ~10% of a cold start.
    import jinja2

    source = resources.files(__package__ or "worktrack.report").joinpath("status.md.j2")
    environment = jinja2.Environment(
        autoescape=False,  # markdown, escaped by ``escape`` rules instead of HTML rules
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment.from_string(source.read_text(encoding="utf-8"))


def timestamp(at: datetime) -> str:
    """The report's ISO timestamp: UTC with its offset, to the second."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


def _clock(at: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC (isoformat: twice as fast as strftime)."""
    return at.astimezone(UTC).isoformat(" ", "seconds")[:19]


class _VendorView(NamedTuple):
    id: str
    version: int
    name: str
    status: str
    passing: int
    total: int
    skipped: int
    formats: str
    extractor_version: str


class _ItemView(NamedTuple):
    indent: str
    id: str
    version: int
    title: str
    item_type: str
    status: str
    priority: int
    created: str
    labels: str | None
    claimed: str | None
    blocked_by: str | None
    progress: str | None
    branch: str | None


class _DeploymentView(NamedTuple):
    id: str
    heading: str
    title: str | None
    commit: str
    tests: str
    compliance: str
    vendors: str


class _EnhancementView(NamedTuple):
    id: str
    version: int
    title: str
    priority: int
    status: str
    target: str | None
    description: str | None


def _format(name: str) -> str:
    # "[none]" means no formats, so a flag really named "none" is written another way.
    return list_item(name) if name != "none" else "\\u006eone"


@functools.lru_cache(maxsize=16_384)
def _vendor(v: Vendor) -> _VendorView:
    # Cached by the whole row (a frozen dataclass): thousands of vendors, rarely changed,
    # were a third of a report at 100,000 items.
    formats = ", ".join(_format(name) for name in v.formats) if v.formats else "none"
    return _VendorView(
        v.id,
        v.version,
        inline(v.name),
        inline(v.status),
        v.passing,
        v.total,
        v.skipped,
        formats,
        inline(v.extractor_version),
    )


def tree(items: Sequence[WorkItem]) -> list[tuple[int, WorkItem]]:
    """Items in report order with their depth: each child right after its parent, rooted
    at items whose parent is not listed; ``items`` is already in sibling order."""
    listed = {item.id for item in items}
    children: dict[str | None, list[WorkItem]] = {}
    for item in items:
        children.setdefault(item.parent_id if item.parent_id in listed else None, []).append(item)
    ordered: list[tuple[int, WorkItem]] = []
    stack = [(0, root) for root in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:
        depth, item = stack.pop()
        if item.id not in seen:
            seen.add(item.id)
            ordered.append((depth, item))
            stack += [(depth + 1, child) for child in reversed(children.get(item.id, []))]
        if not stack and len(ordered) < len(items):
            # Only a parent chain that loops can leave items unreached: show them as roots.
            stack = [(0, item) for item in reversed(items) if item.id not in seen]
    return ordered


def _item(depth: int, i: WorkItem, now: datetime) -> _ItemView:
    # item_type and status need no escaping: the table's CHECK constraints fix their values.
    claimed = None
    if i.claimed_by and claim_holds(i.claimed_by, i.claim_expires_at, now):
        until = timestamp(i.claim_expires_at) if i.claim_expires_at else "further notice"
        claimed = f"{inline(i.claimed_by)} until {until}"
    progress = None
    if i.progress is not None:
        done, to_do = i.progress
        progress = f"{done}/{to_do} ({percent_complete(done, to_do)}%)"
    return _ItemView(
        INDENT * depth,
        i.id,
        i.version,
        inline(i.title),
        i.item_type,
        i.status,
        i.priority,
        _clock(i.created_at),
        ", ".join(list_item(label) for label in i.labels) if i.labels else None,
        claimed,
        ", ".join(list_item(title) for title in i.blocked_by) if i.blocked_by else None,
        progress,
        inline(i.branch_name) if i.branch_name else None,
    )


def _heading(d: Deployment) -> str:
    return f"{_clock(d.deployed_at)} UTC" + (f" - PR #{d.pr_number}" if d.pr_number else "")


def _deployment(d: Deployment) -> _DeploymentView:
    return _DeploymentView(
        d.id,
        _heading(d),
        inline(d.pr_title) if d.pr_title is not None else None,
        inline(d.commit_hash[:7]),
        ", ".join(f"{list_item(category)}: {count}" for category, count in d.tests),
        "✓" if d.compliant else "✗",
        ", ".join(list_item(name) for name in d.vendors),
    )


def first_line(text: str | None) -> str | None:
    """The first line of ``text`` with something on it."""
    return next((line for line in (text or "").split("\n") if line.strip()), None)


def _enhancement(e: Enhancement) -> _EnhancementView:
    description = first_line(e.description)
    return _EnhancementView(
        e.id,
        e.version,
        inline(e.title),
        e.priority,
        inline(e.status),
        inline(e.target_quarter) if e.target_quarter else None,
        inline(description) if description is not None else None,
    )


def _change(c: Change) -> str:
    return f"{_clock(c.at)} UTC - {inline(c.title)} ({inline(c.item_type)}) {_id(c.id, c.version)}"


def _new_deployment(d: Deployment) -> str:
    title = f": {inline(d.pr_title)}" if d.pr_title is not None else ""
    return f"{_heading(d)}{title} {_id(d.id, 1)}"


def _id(entity_id: str, version: int) -> str:
    return f"<!-- id:{entity_id} v:{version} -->"


def _changes(snapshot: Snapshot) -> list[tuple[str, list[str]]]:
    sections = [
        (title, [_change(c) for c in snapshot.changes if c.kind == kind])
        for kind, title in CHANGE_TITLES.items()
    ]
    return [*sections, ("Deployments", [_new_deployment(d) for d in snapshot.new_deployments])]


def counts(snapshot: Snapshot) -> dict[str, int]:
    """The numbers the section headings show."""
    return {
        "vendors": len(snapshot.vendors),
        "operational_vendors": sum(v.status == "operational" for v in snapshot.vendors),
        "active_work_items": len(snapshot.work_items),
        "deployments": len(snapshot.deployments),
        "enhancements": len(snapshot.enhancements),
    }


def render(snapshot: Snapshot, generated_at: datetime) -> str:
    return _template().render(
        generated_at=timestamp(generated_at),
        since=snapshot.since.astimezone(UTC).isoformat() if snapshot.since is not None else None,
        changes=_changes(snapshot) if snapshot.since is not None else [],
        operational=counts(snapshot)["operational_vendors"],
        vendors=[_vendor(v) for v in snapshot.vendors],
        work_items=[_item(depth, item, generated_at) for depth, item in tree(snapshot.work_items)],
        deployments=[_deployment(d) for d in snapshot.deployments],
        enhancements=[_enhancement(e) for e in snapshot.enhancements],
        graph=mermaid.lines(snapshot.graph),
    )
