"""Change history at the boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from worktrack.models.common import Envelope, Shown, ShownJson, Timestamp

HistoryEntity = Literal["work_item", "vendor", "configuration", "enhancement"]


class Change(BaseModel):
    version: int
    changed_at: Timestamp
    changed_by: Shown
    changes: ShownJson


class History(Envelope):
    changes: list[Change]
