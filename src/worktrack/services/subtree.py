"""What happens below an item that was moved, deleted or restored.

Descendants change too (their path and depth, or their ``deleted_at``), so each such
change bumps the descendant's version and leaves a history row, like any other change.
Deleting cascades to live descendants; restoring brings back those deleted with the item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.hierarchy import depth_of, rebase
from worktrack.models.work_items import WorkItem
from worktrack.services.common import diff
from worktrack.store import work_items as store
from worktrack.store.history import change_row

ENTITY = "work_item"


async def follow(
    conn: AsyncConnection,
    before: WorkItem,
    after: WorkItem,
    below: list[WorkItem],
    now: datetime,
    actor: str,
) -> list[dict[str, Any]]:
    """Apply the item's move or deletion to its descendants; return their history rows."""
    versions = {d.id: d.version for d in below}
    log: list[dict[str, Any]] = []

    def record(item: WorkItem, old: dict[str, Any], new: dict[str, Any]) -> None:
        versions[item.id] += 1
        log.append(change_row(ENTITY, item.id, versions[item.id], now, actor, diff(old, new)))

    if below and after.path != before.path:
        await store.rebase_subtree(conn, before.path, after.path, now, actor)
        for item in below:
            path = rebase(item.path, before.path, after.path)
            record(
                item,
                {"path": item.path, "depth": item.depth},
                {"path": path, "depth": depth_of(path)},
            )

    if after.deleted_at != before.deleted_at:
        if after.deleted_at is not None:
            targets = [d for d in below if d.deleted_at is None]
        else:
            targets = [d for d in below if d.deleted_at == before.deleted_at]
        await store.set_deleted(conn, [d.id for d in targets], after.deleted_at, now, actor)
        for item in targets:
            record(item, {"deleted_at": item.deleted_at}, {"deleted_at": after.deleted_at})
    return log
