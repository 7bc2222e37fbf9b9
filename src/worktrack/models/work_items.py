"""Work items at the boundary: argument types, metadata schemas by type, results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from worktrack.models.common import (
    Envelope,
    JsonObject,
    NotBlank,
    Quarter,
    Shown,
    ShownJson,
    Text,
    Timestamp,
    validate_as,
)

ItemType = Literal["project", "session", "task", "research"]
Status = Literal["active", "in_progress", "blocked", "deferred", "completed", "cancelled"]
DependencyType = Literal["blocks", "depends_on"]
Priority = Annotated[int, Field(ge=0, le=4, description="0 highest .. 4 lowest")]
Title = Annotated[Text, Field(min_length=1, max_length=200), NotBlank]
BranchName = Annotated[Text, Field(max_length=100)]
MAX_PR_NUMBER = 2_147_483_647  # the column is a 32-bit integer on both databases
PrNumber = Annotated[int, Field(ge=1, le=MAX_PR_NUMBER)]
Hours = Annotated[float, Field(ge=0, le=1000)]  # validated strictly: ints pass, bools fail


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectMetadata(_Metadata):
    description: Annotated[Text, Field(max_length=1000)]
    target_quarter: Quarter | None = None
    constitutional_principles: list[Text] | None = None


class SessionMetadata(_Metadata):
    token_budget: Annotated[int, Field(ge=1000, le=1_000_000)]
    prompts_count: Annotated[int, Field(ge=0)]
    yaml_frontmatter: JsonObject

    def model_post_init(self, _context: Any) -> None:
        if "schema_version" not in self.yaml_frontmatter:
            raise ValueError("yaml_frontmatter must contain schema_version")


class TaskMetadata(_Metadata):
    estimated_hours: Hours | None = None
    actual_hours: Hours | None = None
    blocked_reason: Annotated[Text, Field(max_length=500)] | None = None


class ResearchMetadata(_Metadata):
    research_questions: list[Text] | None = None
    references: list[Text] | None = None
    findings_summary: Annotated[Text, Field(max_length=2000)] | None = None


METADATA_SCHEMAS: dict[str, type[_Metadata]] = {
    "project": ProjectMetadata,
    "session": SessionMetadata,
    "task": TaskMetadata,
    "research": ResearchMetadata,
}


def checked_metadata(item_type: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The metadata as stored: validated by item type, unset optional keys left out."""
    model = validate_as(METADATA_SCHEMAS[item_type], metadata, "metadata")
    return model.model_dump(mode="json", exclude_none=True)


class WorkItemSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    item_type: ItemType
    title: Shown
    status: Status
    priority: int
    parent_id: str | None
    depth: int
    version: int
    updated_at: Timestamp


class WorkItemRecord(WorkItemSummary):
    path: str
    branch_name: Shown | None
    commit_hash: str | None
    pr_number: int | None
    metadata: ShownJson
    claimed_by: Shown | None
    claim_expires_at: Timestamp | None
    deleted_at: Timestamp | None
    archived_at: Timestamp | None = None
    created_at: Timestamp
    created_by: Shown
    updated_by: Shown


class WorkItem(WorkItemRecord, Envelope):
    """One work item, as a tool result."""


class WorkItemNode(WorkItemSummary):
    children: list[WorkItemNode] = []


class Dependency(Envelope):
    source_id: str
    target_id: str
    dependency_type: DependencyType
    created_at: Timestamp
    created_by: Shown


class Progress(BaseModel):
    """Counts by status over the subtree below an item; percent of the work not cancelled."""

    total: int
    active: int
    in_progress: int
    blocked: int
    deferred: int
    completed: int
    cancelled: int
    percent_complete: int | None


class WorkItemDetail(WorkItem):
    ancestors: list[WorkItemSummary]
    children: list[WorkItemNode]
    descendant_count: int
    children_truncated: bool
    dependencies: list[Dependency]
    progress: Progress


class WorkItemPage(Envelope):
    items: list[WorkItemRecord | WorkItemSummary]
    total_count: int
    next_cursor: str | None


class Removed(Envelope):
    removed: bool
