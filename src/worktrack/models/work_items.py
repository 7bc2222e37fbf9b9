"""Work items at the boundary: argument types, metadata schemas by type, results."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from worktrack.errors import ValidationError
from worktrack.models.common import (
    Envelope,
    JsonObject,
    NotBlank,
    Quarter,
    Shown,
    ShownJson,
    Text,
    Timestamp,
    to_validation_error,
    validate_as,
)
from worktrack.models.notes import NoteRecord

ItemType = Literal["project", "session", "task", "research"]
Status = Literal["active", "in_progress", "blocked", "deferred", "completed", "cancelled"]
DependencyType = Literal["blocks", "depends_on"]
Priority = Annotated[int, Field(ge=0, le=4, description="0 highest .. 4 lowest")]
Title = Annotated[Text, Field(min_length=1, max_length=200), NotBlank]
BranchName = Annotated[Text, Field(max_length=100)]
MAX_PR_NUMBER = 2_147_483_647  # the column is a 32-bit integer on both databases
PrNumber = Annotated[int, Field(ge=1, le=MAX_PR_NUMBER)]
Hours = Annotated[float, Field(ge=0, le=1000)]  # validated strictly: ints pass, bools fail
MAX_DESCRIPTION = 20_000
MAX_ACCEPTANCE_CRITERIA = 5_000
MAX_LABELS = 20
Description = Annotated[Text, Field(max_length=MAX_DESCRIPTION, description="markdown")]
AcceptanceCriteria = Annotated[Text, Field(max_length=MAX_ACCEPTANCE_CRITERIA)]
_LABEL = re.compile(r"[a-z0-9][a-z0-9._:/-]{0,49}")


def _label(value: str) -> str:
    lowered = value.lower()
    if not _LABEL.fullmatch(lowered):
        raise ValueError(
            "a label is 1..50 characters: letters, digits and . _ : / -, "
            "starting with a letter or digit"
        )
    return lowered


def _label_set(values: list[str]) -> list[str]:
    return sorted(set(values))


Label = Annotated[str, AfterValidator(_label)]
# Stored lower-case, unique and sorted, so two spellings of one set compare equal.
Labels = Annotated[
    list[Label],
    Field(max_length=MAX_LABELS, description="lower-cased, unique, sorted"),
    AfterValidator(_label_set),
]


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectMetadata(_Metadata):
    target_quarter: Quarter | None = None
    constitutional_principles: list[Text] | None = None


class SessionMetadata(_Metadata):
    token_budget: Annotated[int, Field(ge=1000, le=1_000_000)]
    prompts_count: Annotated[int, Field(ge=0)] = 0
    yaml_frontmatter: JsonObject = Field(default_factory=lambda: {"schema_version": "1.0"})

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


_LABELS: TypeAdapter[list[str]] = TypeAdapter(Labels)


_ONE_LABEL: TypeAdapter[str] = TypeAdapter(Label)


def checked_label(label: str) -> str:
    """One label as stored (lower-case), for a filter: a ValidationError on ``label``."""
    try:
        return _ONE_LABEL.validate_python(label)
    except pydantic.ValidationError as error:
        raise to_validation_error(error, "label") from None


def checked_labels(labels: list[str]) -> list[str]:
    """Labels as stored (lower-case, unique, sorted), checked for callers that skip the tool
    boundary (the legacy import, tests, a replayed call)."""
    try:
        return _LABELS.validate_python(labels)
    except pydantic.ValidationError as error:
        raise to_validation_error(error, "labels") from None


def checked_metadata(
    item_type: str, metadata: dict[str, Any], *, token_budget: int | None = None
) -> dict[str, Any]:
    """The metadata as stored: validated by item type, unset optional keys left out, a
    session's missing keys filled in (``token_budget`` is the configuration's default)."""
    if item_type == "project" and "description" in metadata:
        raise ValidationError(
            "description",
            "a project's description is the description field, not metadata.description",
        )
    if item_type == "session" and "token_budget" not in metadata and token_budget is not None:
        metadata = {**metadata, "token_budget": token_budget}
    model = validate_as(METADATA_SCHEMAS[item_type], metadata, "metadata")
    return model.model_dump(mode="json", exclude_none=True)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: ``patch`` merged into ``target``; a key set to null is removed, an object
    merges key by key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class WorkItemHeadline(BaseModel):
    """What every view of a work item starts with."""

    model_config = ConfigDict(frozen=True)

    id: str
    item_type: ItemType
    title: Shown
    status: Status
    priority: int
    labels: list[Shown]  # checked ASCII on the way in; shown revealed like all stored text


class WorkItemSummary(WorkItemHeadline):
    parent_id: str | None
    depth: int
    version: int
    claimed_by: Shown | None
    updated_at: Timestamp


class WorkItemRecord(WorkItemSummary):
    description: Shown | None
    acceptance_criteria: Shown | None
    path: str
    branch_name: Shown | None
    commit_hash: str | None
    pr_number: int | None
    metadata: ShownJson
    claim_expires_at: Timestamp | None
    deleted_at: Timestamp | None
    archived_at: Timestamp | None = None
    created_at: Timestamp
    created_by: Shown
    updated_by: Shown


class WorkItem(WorkItemRecord, Envelope):
    """One work item, as a tool result."""


def claim_holds(claimed_by: str | None, until: datetime | None, now: datetime) -> bool:
    """A claim holds until its lease ends; one without an end holds until released (as
    the claim's SQL sees it: ``claim_expires_at <= now`` is not true for NULL)."""
    return claimed_by is not None and (until is None or until > now)


def _unset(value: object) -> bool:
    return value is None


class WorkItemNode(WorkItemHeadline):
    """A descendant in query_work_item's tree: what an overview needs, at about 170
    characters a node, so the default 100 nodes stay under 5,000 tokens. Its parent and
    depth are where it is nested; its version and times are in its own query_work_item."""

    claimed_by: Shown | None = Field(default=None, exclude_if=_unset)
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
    notes: list[NoteRecord]  # the newest few, newest first
    notes_count: int


class WorkItemPage(Envelope):
    items: list[WorkItemRecord | WorkItemSummary]
    total_count: int
    total_count_exact: bool = True
    next_cursor: str | None


class Removed(Envelope):
    removed: bool
