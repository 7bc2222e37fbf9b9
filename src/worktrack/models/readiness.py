"""Results of the readiness rule: ready work, blocked work (ADR 0014)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from worktrack.models.common import Envelope, Shown
from worktrack.models.work_items import Status, WorkItemSummary

PREVIEW = 300  # characters of a ready item's description


class ReadyItem(WorkItemSummary):
    unblocks: int
    description: Shown | None = None


class ReadyWork(Envelope):
    items: list[ReadyItem]


class BlockedBy(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: Shown
    status: Status
    via: Literal["dependency", "ancestor"]


class BlockedItem(WorkItemSummary):
    blocked_by: list[BlockedBy]
    blocked_reason: Shown | None = None


class BlockedWork(Envelope):
    items: list[BlockedItem]
