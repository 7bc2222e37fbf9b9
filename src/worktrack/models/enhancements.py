"""Enhancements at the boundary: argument types and results."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from worktrack.models.common import Envelope, Shown, Text, Timestamp

EnhancementStatus = Literal["planned", "approved", "implementing", "completed"]
EnhancementPriority = Annotated[int, Field(ge=1, le=5, description="1 highest .. 5 lowest")]
Description = Annotated[Text, Field(max_length=5000)]
Principles = Annotated[
    list[Annotated[Text, Field(min_length=1, max_length=200)]], Field(max_length=50)
]


class EnhancementRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    version: int
    title: Shown
    description: Shown | None
    priority: int
    status: EnhancementStatus
    target_quarter: str | None
    requires_constitutional_principles: list[Shown]
    depends_on_ids: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    created_by: Shown
    updated_by: Shown


class Enhancement(EnhancementRecord, Envelope):
    """One enhancement, as a tool result."""


class EnhancementPage(Envelope):
    items: list[EnhancementRecord]
    total_count: int
    next_cursor: str | None
