"""Claims: an expiring lease that tells other assistants an item is being worked on.

Claims do not change ``version``: they say who works on an item, not what it is."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import ConflictError, NotFoundError, ValidationError, WorktrackError
from worktrack.models.work_items import WorkItem
from worktrack.services import readiness
from worktrack.services.app import App, writes
from worktrack.services.work_items import load
from worktrack.store import work_items as store
from worktrack.tables import CLOSED_STATUSES


@writes("claim_work_item", WorkItem, entity="work_item", keep=("id",))
async def claim_work_item(
    app: App,
    conn: AsyncConnection,
    *,
    id: str | None = None,
    lease_minutes: int = 30,
    claimed_by: str | None = None,
    request_id: str | None = None,
) -> WorkItem:
    actor, now = app.who(claimed_by), app.clock()
    until = now + timedelta(minutes=lease_minutes)
    if id is None:
        if claimed := await readiness.claim_next(conn, actor=actor, now=now, until=until):
            return claimed
        raise NotFoundError("ready work_item", id="next")
    item = await load(conn, id)
    claimed = await store.set_claim(conn, item.id, actor, until, now)
    if claimed is None:
        raise _refusal(item, now)
    return claimed


@writes("release_work_item", WorkItem, entity="work_item", keep=("id",))
async def release_work_item(
    app: App,
    conn: AsyncConnection,
    *,
    id: str,
    claimed_by: str | None = None,
    request_id: str | None = None,
) -> WorkItem:
    item, now = await load(conn, id), app.clock()
    if item.claimed_by is None:
        return item  # nothing to release: a no-op, so a retried release never fails
    # Only the holder releases a live claim; an expired one anybody may clear.
    released = await store.clear_claim(conn, item.id, app.who(claimed_by), now)
    if released is None:
        raise _refusal(item, now)
    return released


def _refusal(item: WorkItem, now: datetime) -> WorktrackError:
    if item.deleted_at is not None:
        return ValidationError("id", f"work item {item.id} is deleted")
    if item.status in CLOSED_STATUSES:
        return ValidationError("id", f"work item {item.id} is {item.status}")
    return ConflictError(
        f"work item {item.id} is claimed by {item.claimed_by} until "
        f"{item.claim_expires_at.isoformat() if item.claim_expires_at else 'further notice'}",
        claimed_by=item.claimed_by,
        claim_expires_at=item.claim_expires_at.isoformat() if item.claim_expires_at else None,
    )
