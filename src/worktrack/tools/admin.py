"""Administration tools: parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from pydantic import Field

from worktrack.models.admin import ArchiveResult
from worktrack.models.common import RequestId
from worktrack.services import archive
from worktrack.tools.common import Toolset, app_of

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
        app_of(ctx), older_than_days=older_than_days, dry_run=dry_run, request_id=request_id
    )
