"""Deployments tools: parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from pydantic import AwareDatetime, Field

from worktrack.models.common import Actor, CommitHash, Cursor, IdRef, JsonObject, RequestId, Text
from worktrack.models.deployments import Deployment, DeploymentPage
from worktrack.services import deployments
from worktrack.tools.common import Toolset, app_of

tools = Toolset("deployments")

Metadata = Annotated[
    JsonObject,
    Field(
        description="pr_number*, pr_title*, test_summary* {category: count}, "
        "constitutional_compliance*, commit_hash (*required)"
    ),
]
IdList = Annotated[list[IdRef], Field(max_length=100)]


@tools.write()
async def record_deployment(
    ctx: Context,
    metadata: Metadata,
    deployed_at: Annotated[AwareDatetime, Field(description="default now")] | None = None,
    commit_hash: Annotated[CommitHash, Field(description="default: repo HEAD")] | None = None,
    affected_vendor_ids: IdList | None = None,
    related_work_item_ids: IdList | None = None,
    created_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Deployment:
    """Record a deployment; unknown or repeated linked ids reject the whole call."""
    return await deployments.record_deployment(
        app_of(ctx),
        metadata=metadata,
        deployed_at=deployed_at,
        commit_hash=commit_hash,
        affected_vendor_ids=affected_vendor_ids,
        related_work_item_ids=related_work_item_ids,
        created_by=created_by,
        request_id=request_id,
    )


@tools.read
async def query_deployment(ctx: Context, id: IdRef) -> Deployment:
    """One deployment with its affected vendors and related work items."""
    return await deployments.query_deployment(app_of(ctx), id=id)


@tools.read
async def list_deployments(
    ctx: Context,
    since: Annotated[AwareDatetime, Field(description="inclusive")] | None = None,
    until: Annotated[AwareDatetime, Field(description="exclusive")] | None = None,
    vendor_name: Annotated[Text, Field(min_length=1, max_length=100)] | None = None,
    work_item_id: IdRef | None = None,
    limit: Annotated[int, Field(ge=1, le=200)] = 20,
    cursor: Cursor | None = None,
) -> DeploymentPage:
    """List deployments, newest first, a page at a time."""
    return await deployments.list_deployments(
        app_of(ctx),
        since=since,
        until=until,
        vendor_name=vendor_name,
        work_item_id=work_item_id,
        limit=limit,
        cursor=cursor,
    )
