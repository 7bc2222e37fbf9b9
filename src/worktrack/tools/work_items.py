"""Work-item tools: parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context
from pydantic import Field

from worktrack.models.common import (
    Actor,
    ClearableCommit,
    CommitHash,
    Cursor,
    IdRef,
    JsonObject,
    RequestId,
    Text,
)
from worktrack.models.history import History, HistoryEntity
from worktrack.models.readiness import BlockedWork, ReadyWork
from worktrack.models.work_items import (
    MAX_PR_NUMBER,
    AcceptanceCriteria,
    BranchName,
    Dependency,
    DependencyType,
    Description,
    ItemType,
    Label,
    Labels,
    Priority,
    PrNumber,
    Removed,
    Status,
    Title,
    WorkItem,
    WorkItemDetail,
    WorkItemPage,
)
from worktrack.services import claims, dependencies, history, readiness, work_items
from worktrack.tools.common import Toolset, app_of

tools = Toolset("work_items")

Metadata = Annotated[
    JsonObject,
    Field(
        description="keys by item_type: project: target_quarter, constitutional_principles; "
        "session: token_budget, prompts_count, yaml_frontmatter; task: estimated_hours, "
        "actual_hours, blocked_reason; research: research_questions, references, "
        "findings_summary"
    ),
]
Limit = Annotated[int, Field(ge=1, le=200)]
LabelFilter = Annotated[Text, Field(max_length=50, description="items with this label")]


@tools.write()
async def create_work_item(
    ctx: Context,
    item_type: ItemType,
    title: Title,
    parent_id: IdRef | None = None,
    description: Annotated[Description, Field(description="markdown; required for a project")]
    | None = None,
    acceptance_criteria: AcceptanceCriteria | None = None,
    labels: Labels | None = None,
    status: Status = "active",
    priority: Priority = 2,
    metadata: Metadata | None = None,
    branch_name: BranchName | None = None,
    commit_hash: CommitHash | None = None,
    pr_number: PrNumber | None = None,
    created_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> WorkItem:
    """Create a work item; nest it with parent_id (at most 5 levels below a root)."""
    return await work_items.create_work_item(
        app_of(ctx),
        item_type=item_type,
        title=title,
        parent_id=parent_id,
        description=description,
        acceptance_criteria=acceptance_criteria,
        labels=labels,
        status=status,
        priority=priority,
        metadata=metadata,
        branch_name=branch_name,
        commit_hash=commit_hash,
        pr_number=pr_number,
        created_by=created_by,
        request_id=request_id,
    )


@tools.write(destructive=True)
async def update_work_item(
    ctx: Context,
    id: IdRef,
    version: Annotated[int, Field(ge=1, description="the version you last read")],
    title: Title | None = None,
    description: Description | None = None,
    acceptance_criteria: Annotated[AcceptanceCriteria, Field(description='"" clears')]
    | None = None,
    labels: Annotated[Labels, Field(description="replaces the labels")] | None = None,
    status: Status | None = None,
    priority: Priority | None = None,
    parent_id: Annotated[
        str,
        Field(
            pattern=r"^([0-9a-fA-F][0-9a-fA-F-]{7,35})?$",
            description='new parent (moves the subtree); "" makes it a root',
        ),
    ]
    | None = None,
    metadata: Annotated[JsonObject, Field(description="replaces the stored metadata")]
    | None = None,
    metadata_patch: Annotated[JsonObject, Field(description="merged in; null removes a key")]
    | None = None,
    branch_name: Annotated[BranchName, Field(description='"" clears')] | None = None,
    commit_hash: Annotated[ClearableCommit, Field(description='"" clears')] | None = None,
    pr_number: Annotated[int, Field(ge=0, le=MAX_PR_NUMBER, description="0 clears")] | None = None,
    deleted: Annotated[
        bool, Field(description="true soft-deletes with the subtree, false restores")
    ]
    | None = None,
    updated_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> WorkItem:
    """Change a work item; fails with VersionConflictError if it changed since you read it."""
    return await work_items.update_work_item(
        app_of(ctx),
        id=id,
        version=version,
        title=title,
        description=description,
        acceptance_criteria=acceptance_criteria,
        labels=labels,
        status=status,
        priority=priority,
        parent_id=parent_id,
        metadata=metadata,
        metadata_patch=metadata_patch,
        branch_name=branch_name,
        commit_hash=commit_hash,
        pr_number=pr_number,
        deleted=deleted,
        updated_by=updated_by,
        request_id=request_id,
    )


@tools.read
async def query_work_item(
    ctx: Context,
    id: IdRef,
    include_children: bool = True,
    include_dependencies: bool = True,
    max_nodes: Annotated[int, Field(ge=1, le=1000, description="children shown, in all")] = 100,
) -> WorkItemDetail:
    """One work item with its ancestors, nested children, dependencies and progress."""
    return await work_items.query_work_item(
        app_of(ctx),
        id=id,
        include_children=include_children,
        include_dependencies=include_dependencies,
        max_nodes=max_nodes,
    )


@tools.read
async def list_work_items(
    ctx: Context,
    item_type: ItemType | None = None,
    status: Status | None = None,
    parent_id: Annotated[IdRef, Field(description="direct children of this item")] | None = None,
    root_only: bool = False,
    label: Label | None = None,
    priority: Priority | None = None,
    claimed_by: Actor | None = None,
    text: Annotated[
        Text,
        Field(min_length=1, max_length=200, description="in title, description, metadata..."),
    ]
    | None = None,
    include_deleted: bool = False,
    archived: Annotated[bool, Field(description="list the archive instead")] = False,
    detail: Literal["summary", "full"] = "summary",
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> WorkItemPage:
    """List work items, most recently updated first, a page at a time."""
    return await work_items.list_work_items(
        app_of(ctx),
        item_type=item_type,
        status=status,
        parent_id=parent_id,
        root_only=root_only,
        label=label,
        priority=priority,
        claimed_by=claimed_by,
        text=text,
        include_deleted=include_deleted,
        archived=archived,
        detail=detail,
        limit=limit,
        cursor=cursor,
    )


@tools.write(idempotent=True)
async def add_dependency(
    ctx: Context,
    source_id: IdRef,
    target_id: IdRef,
    dependency_type: Annotated[
        DependencyType,
        Field(description="blocks: source blocks target; depends_on: source needs target"),
    ],
    created_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Dependency:
    """Link two work items; a link that would close a cycle is refused."""
    return await dependencies.add_dependency(
        app_of(ctx),
        source_id=source_id,
        target_id=target_id,
        dependency_type=dependency_type,
        created_by=created_by,
        request_id=request_id,
    )


@tools.write(idempotent=True, destructive=True)
async def remove_dependency(
    ctx: Context,
    source_id: IdRef,
    target_id: IdRef,
    dependency_type: DependencyType,
    request_id: RequestId | None = None,
) -> Removed:
    """Remove a link between two work items."""
    return await dependencies.remove_dependency(
        app_of(ctx),
        source_id=source_id,
        target_id=target_id,
        dependency_type=dependency_type,
        request_id=request_id,
    )


@tools.read
async def ready_work(
    ctx: Context,
    item_type: ItemType | None = None,
    parent_id: Annotated[IdRef, Field(description="only items below this one")] | None = None,
    label: LabelFilter | None = None,
    limit: Limit = 10,
) -> ReadyWork:
    """Tasks you can start now (nothing open blocks them or an ancestor), most urgent first."""
    return await readiness.ready_work(
        app_of(ctx), item_type=item_type, parent_id=parent_id, label=label, limit=limit
    )


@tools.read
async def blocked_work(
    ctx: Context,
    parent_id: Annotated[IdRef, Field(description="only items below this one")] | None = None,
    label: LabelFilter | None = None,
    limit: Limit = 20,
) -> BlockedWork:
    """Open items held up by an open dependency or a blocked status, with their blockers."""
    return await readiness.blocked_work(app_of(ctx), parent_id=parent_id, label=label, limit=limit)


@tools.write(idempotent=True)
async def claim_work_item(
    ctx: Context,
    id: Annotated[IdRef, Field(description="omit to claim the next ready item")] | None = None,
    lease_minutes: Annotated[int, Field(ge=1, le=1440)] = 30,
    claimed_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> WorkItem:
    """Claim a work item for a lease (renewing your own); others see it as taken."""
    return await claims.claim_work_item(
        app_of(ctx),
        id=id,
        lease_minutes=lease_minutes,
        claimed_by=claimed_by,
        request_id=request_id,
    )


@tools.write(idempotent=True)
async def release_work_item(
    ctx: Context,
    id: IdRef,
    claimed_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> WorkItem:
    """Release your claim on a work item."""
    return await claims.release_work_item(
        app_of(ctx), id=id, claimed_by=claimed_by, request_id=request_id
    )


@tools.read
async def get_history(
    ctx: Context,
    entity: HistoryEntity,
    id: Annotated[
        Text,
        Field(
            min_length=1, max_length=100, description="the entity's id or prefix (vendor: or name)"
        ),
    ],
    limit: Limit = 50,
) -> History:
    """An entity's changes, newest first: {field: [old, new]} per version."""
    return await history.get_history(app_of(ctx), entity=entity, id=id, limit=limit)
