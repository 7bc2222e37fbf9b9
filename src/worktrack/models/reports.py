"""What ``generate_status_report`` returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from worktrack.models.common import Envelope


class ReportCounts(BaseModel):
    """The numbers the report's section headings show."""

    model_config = ConfigDict(frozen=True)

    vendors: int
    operational_vendors: int
    active_work_items: int
    deployments: int
    enhancements: int


class StatusReport(Envelope):
    # Already safe to show: the report escapes invisible characters itself.
    markdown: str
    path: str | None
    counts: ReportCounts
