"""An item's place and subtree as query_work_item shows them: ancestors, the first
``max_nodes`` descendants breadth-first as a nested tree, and progress by status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.hierarchy import percent_complete
from worktrack.models.work_items import Progress, WorkItem
from worktrack.store import tree as store
from worktrack.tables import ITEM_STATUSES

Row = dict[str, Any]


def progress(counts: Mapping[str, int]) -> Progress:
    """Counts by status, and completed ÷ (total − cancelled) in percent, rounded half up
    (None when nothing is left to complete)."""
    by_status = {status: counts.get(status, 0) for status in ITEM_STATUSES}
    total = sum(by_status.values())
    percent = percent_complete(by_status["completed"], total - by_status["cancelled"])
    return Progress(total=total, percent_complete=percent, **by_status)


def nest(root_id: str, below: list[Row]) -> list[Row]:
    """The nested tree under ``root_id`` (each row gets its ``children``) from the
    summary rows of its descendants, each parent's children in the order given."""
    children: dict[str | None, list[Row]] = {}
    for row in below:
        children.setdefault(row["parent_id"], []).append(row)
    for row in below:
        row["children"] = children.get(row["id"], [])
    return children.get(root_id, [])


async def live_view(
    conn: AsyncConnection, item: WorkItem, *, max_nodes: int, include_children: bool
) -> Row:
    """The tree fields of an active item's result: three bounded statements, two for a
    leaf (nothing below it to read)."""
    counts = await store.status_counts(conn, item.path)
    total = sum(counts.values())
    below = (
        await store.first_descendants(conn, item.path, max_nodes)
        if include_children and total
        else []
    )
    return {
        "ancestors": await store.ancestors(conn, item.path),
        "children": nest(item.id, below),
        "descendant_count": total,
        "children_truncated": include_children and total > len(below),
        "progress": progress(counts),
    }


def archived_view(
    item: WorkItem, related: list[Row], *, max_nodes: int, include_children: bool
) -> Row:
    """The same fields for an archived item, from its whole family (the archive is
    read seldom, and an archived subtree is finished work)."""
    below = [row for row in related if row["depth"] > item.depth]
    counts: dict[str, int] = {}
    for row in below:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    shown = below[:max_nodes] if include_children else []
    return {
        "ancestors": [row for row in related if row["depth"] < item.depth],
        "children": nest(item.id, shown),
        "descendant_count": len(below),
        "children_truncated": include_children and len(below) > len(shown),
        "progress": progress(counts),
    }
