"""Administration tools: archiving, system health, and the sync conflicts of writes
replayed after an outage. Parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from pydantic import Field

from worktrack.models.admin import ArchiveResult
from worktrack.models.common import Actor, IdRef, RequestId
from worktrack.models.sync import Resolution, Resolved, SyncConflicts, SystemHealth
from worktrack.services import archive, sync
from worktrack.tools.common import Toolset, app_of, progress_of

tools = Toolset("admin")


@tools.write(idempotent=True)
async def archive_work_items(
    ctx: Context,
    older_than_days: Annotated[
        int, Field(ge=0, le=36_500, description="not updated for this many days")
    ] = 365,
    dry_run: Annotated[bool, Field(description="only report what would move")] = False,
    request_id: RequestId | None = None,
) -> ArchiveResult:
    """Move completed or deleted work items nobody touched for a while to the archive."""
    return await archive.archive_work_items(
        app_of(ctx),
        older_than_days=older_than_days,
        dry_run=dry_run,
        request_id=request_id,
        progress=progress_of(ctx, log_steps=True),
    )


@tools.read
async def get_system_health(ctx: Context) -> SystemHealth:
    """Which storage layer serves, the primary's state, cache, queued writes, conflicts."""
    return await sync.get_system_health(app_of(ctx))


@tools.read
async def list_sync_conflicts(ctx: Context) -> SyncConflicts:
    """Writes queued during an outage that could not be applied, with both sides."""
    return await sync.list_sync_conflicts(app_of(ctx))


@tools.write(destructive=True)
async def resolve_sync_conflict(
    ctx: Context,
    id: IdRef,
    resolution: Annotated[
        Resolution,
        Field(
            description="discard: drop the queued change; reapply: apply it on the current version"
        ),
    ],
    resolved_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Resolved:
    """Settle a sync conflict by dropping or reapplying the queued change."""
    return await sync.resolve_sync_conflict(
        app_of(ctx), id=id, resolution=resolution, resolved_by=resolved_by, request_id=request_id
    )
