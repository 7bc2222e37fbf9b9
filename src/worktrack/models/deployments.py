"""Deployments at the boundary: the metadata schema, linked summaries, results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from worktrack.models.common import (
    CommitHash,
    Envelope,
    Shown,
    ShownJson,
    Text,
    Timestamp,
    validate_as,
)
from worktrack.models.work_items import ItemType, PrNumber, Status, Title

Category = Annotated[Text, Field(min_length=1, max_length=50)]


class DeploymentMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pr_number: PrNumber
    pr_title: Title
    commit_hash: CommitHash | None = None
    test_summary: dict[Category, Annotated[int, Field(ge=0)]]
    constitutional_compliance: bool


def checked_metadata(metadata: dict[str, Any]) -> DeploymentMetadata:
    return validate_as(DeploymentMetadata, metadata, "metadata")


class AffectedVendor(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: Shown
    status: Literal["operational", "broken"]


class RelatedWorkItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    item_type: ItemType
    title: Shown
    status: Status


class DeploymentRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    deployed_at: Timestamp
    commit_hash: str
    metadata: ShownJson
    affected_vendors: list[AffectedVendor]
    related_work_items: list[RelatedWorkItem]
    created_at: Timestamp
    created_by: Shown


class Deployment(DeploymentRecord, Envelope):
    """One deployment, as a tool result."""


class DeploymentPage(Envelope):
    items: list[DeploymentRecord]
    total_count: int
    next_cursor: str | None
