"""The legacy import at the boundary: what it checks each entry against, and its result.

Each ``*Entry`` model is a create tool's arguments, built from the same annotated types the
tool uses, so an entry of a legacy file meets exactly the rules a tool call would.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from worktrack.models.common import Quarter, validate_as
from worktrack.models.enhancements import Description, EnhancementPriority, EnhancementStatus
from worktrack.models.vendors import ExtractorVersion, VendorName, VendorStatus
from worktrack.models.work_items import BranchName, ItemType, Priority, Status, Title
from worktrack.models.work_items import Description as WorkItemDescription


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


E = TypeVar("E", bound=_Entry)


class VendorEntry(_Entry):
    name: VendorName
    status: VendorStatus
    extractor_version: ExtractorVersion
    metadata: dict[str, Any]


class WorkItemEntry(_Entry):
    item_type: ItemType
    title: Title
    description: WorkItemDescription | None = None
    status: Status
    priority: Priority
    branch_name: BranchName | None
    metadata: dict[str, Any]


class EnhancementEntry(_Entry):
    title: Title
    description: Description | None
    priority: EnhancementPriority
    status: EnhancementStatus
    target_quarter: Quarter | None


def entry(model: type[E], **values: Any) -> E:
    """``values`` checked as ``model``; a ``ValidationError`` names the field and rule."""
    return validate_as(model, values, "")


class Check(BaseModel):
    source: int
    migrated: int
    match: bool


class Reconciliation(BaseModel):
    vendor_count: Check
    deployment_count: Check
    enhancement_count: Check
    session_prompt_count: Check
    vendor_metadata: Check
    work_item_count: Check


class SkippedFile(BaseModel):
    file: str
    reason: str


class DefaultApplied(BaseModel):
    """One default, and every entry it was given to (by name, title or file)."""

    entity: str
    field: str
    value: Any
    applied_to: list[str]


class ImportResult(BaseModel):
    success: bool
    dry_run: bool
    data_preservation_percentage: float
    reconciliation: Reconciliation
    skipped: list[SkippedFile]
    defaults_applied: list[DefaultApplied]
    rollback_executed: bool
    errors: list[str]
    source_sha256: str
