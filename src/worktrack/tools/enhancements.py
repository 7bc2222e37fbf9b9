"""Enhancements tools: parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from pydantic import Field

from worktrack.models.common import Actor, Cursor, IdRef, Quarter, RequestId
from worktrack.models.enhancements import (
    Description,
    Enhancement,
    EnhancementPage,
    EnhancementPriority,
    EnhancementStatus,
    Principles,
)
from worktrack.models.work_items import Title
from worktrack.services import enhancements
from worktrack.tools.common import Toolset, app_of

tools = Toolset("enhancements")

DependsOn = Annotated[list[IdRef], Field(max_length=50, description="enhancements needed first")]


@tools.write()
async def create_enhancement(
    ctx: Context,
    title: Title,
    description: Description | None = None,
    priority: EnhancementPriority = 3,
    status: EnhancementStatus = "planned",
    target_quarter: Quarter | None = None,
    requires_constitutional_principles: Principles | None = None,
    depends_on_ids: DependsOn | None = None,
    created_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Enhancement:
    """Plan an enhancement."""
    return await enhancements.create_enhancement(
        app_of(ctx),
        title=title,
        description=description,
        priority=priority,
        status=status,
        target_quarter=target_quarter,
        requires_constitutional_principles=requires_constitutional_principles,
        depends_on_ids=depends_on_ids,
        created_by=created_by,
        request_id=request_id,
    )


@tools.write(destructive=True)
async def update_enhancement(
    ctx: Context,
    id: IdRef,
    version: Annotated[int, Field(ge=1, description="the version you last read")],
    title: Title | None = None,
    description: Annotated[Description, Field(description='"" clears')] | None = None,
    priority: EnhancementPriority | None = None,
    status: EnhancementStatus | None = None,
    target_quarter: Annotated[str, Field(pattern=r"^([0-9]{4}-Q[1-4])?$", description='"" clears')]
    | None = None,
    requires_constitutional_principles: Principles | None = None,
    depends_on_ids: Annotated[DependsOn, Field(description="replaces the stored ones")]
    | None = None,
    updated_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Enhancement:
    """Change an enhancement; fails with VersionConflictError if it changed since you read it."""
    return await enhancements.update_enhancement(
        app_of(ctx),
        id=id,
        version=version,
        title=title,
        description=description,
        priority=priority,
        status=status,
        target_quarter=target_quarter,
        requires_constitutional_principles=requires_constitutional_principles,
        depends_on_ids=depends_on_ids,
        updated_by=updated_by,
        request_id=request_id,
    )


@tools.read
async def list_enhancements(
    ctx: Context,
    priority: EnhancementPriority | None = None,
    status: EnhancementStatus | None = None,
    target_quarter: Quarter | None = None,
    limit: Annotated[int, Field(ge=1, le=200)] = 50,
    cursor: Cursor | None = None,
) -> EnhancementPage:
    """List enhancements by priority, then target quarter (none last), a page at a time."""
    return await enhancements.list_enhancements(
        app_of(ctx),
        priority=priority,
        status=status,
        target_quarter=target_quarter,
        limit=limit,
        cursor=cursor,
    )
