"""Vendors at the boundary: argument types, the metadata schema, results."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from worktrack.errors import ValidationError
from worktrack.models.common import (
    Envelope,
    NotBlank,
    OneLine,
    Shown,
    ShownJson,
    Text,
    Timestamp,
    validate_as,
)

VendorStatus = Literal["operational", "broken"]


VendorName = Annotated[Text, Field(min_length=1, max_length=100), NotBlank, OneLine]
ExtractorVersion = Annotated[Text, Field(min_length=1, max_length=50), NotBlank, OneLine]
Count = Annotated[int, Field(ge=0)]


class FormatSupport(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    # further formats may be flagged, but only with booleans
    __pydantic_extra__: dict[str, bool] = Field(init=False)

    excel: bool
    csv: bool
    pdf: bool
    ocr: bool


class ResultCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    passing: Count
    total: Count
    skipped: Count

    @model_validator(mode="after")
    def _within_total(self) -> Self:
        if self.passing + self.skipped > self.total:
            raise ValueError("passing + skipped must not exceed total")
        return self


class VendorMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_support: FormatSupport
    test_results: ResultCounts
    extractor_version: ExtractorVersion | None = None
    manifest_compliant: bool | None = None


def parse_metadata(metadata: dict[str, Any]) -> VendorMetadata:
    return validate_as(VendorMetadata, metadata, "metadata")


def stored_metadata(metadata: VendorMetadata, extractor_version: str) -> dict[str, Any]:
    """The metadata as stored: its ``extractor_version`` always the vendor's own."""
    if metadata.extractor_version not in (None, extractor_version):
        raise ValidationError(
            "metadata.extractor_version",
            f"must equal extractor_version ({extractor_version!r}) when both are given",
        )
    agreed = metadata.model_copy(update={"extractor_version": extractor_version})
    return agreed.model_dump(mode="json", exclude_none=True)


class Vendor(Envelope):
    """One vendor, as a tool result or an item of a listing."""

    id: str
    version: int
    name: Shown
    status: VendorStatus
    extractor_version: Shown
    metadata: ShownJson
    created_at: Timestamp
    updated_at: Timestamp
    created_by: Shown
    updated_by: Shown


class VendorList(Envelope):
    items: list[Vendor]
    total_count: int
    operational_count: int
    next_cursor: str | None = None
