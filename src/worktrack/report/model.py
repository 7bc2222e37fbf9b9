"""The status report's read model: frozen rows, each shaped like the section showing it.

Frozen dataclasses, not pydantic models: a report holds thousands of rows and needs no
validation on the way out of our own database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worktrack.report.graph import EMPTY, Graph

STANDARD_FORMATS = ("excel", "csv", "pdf", "ocr")


@dataclass(frozen=True, slots=True)
class Vendor:
    id: str
    version: int
    name: str
    status: str
    passing: int
    total: int
    skipped: int
    formats: tuple[str, ...]
    extractor_version: str


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: str
    version: int
    title: str
    item_type: str
    status: str
    parent_id: str | None
    created_at: datetime
    branch_name: str | None
    priority: int = 2
    labels: tuple[str, ...] = ()
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    blocked_by: tuple[str, ...] = ()  # titles of the open items it waits on
    # (completed, total not cancelled) below it; None without children
    progress: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    deployed_at: datetime
    commit_hash: str
    pr_number: int | None
    pr_title: str | None
    tests: tuple[tuple[str, int], ...]
    compliant: bool
    vendors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Enhancement:
    id: str
    version: int
    title: str
    priority: int
    status: str
    target_quarter: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """A work item completed, created or blocked after ``since``."""

    kind: str
    at: datetime
    id: str
    version: int
    title: str
    item_type: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    vendors: Sequence[Vendor]
    work_items: Sequence[WorkItem]
    deployments: Sequence[Deployment]
    enhancements: Sequence[Enhancement]
    since: datetime | None = None
    changes: Sequence[Change] = ()
    new_deployments: Sequence[Deployment] = ()
    graph: Graph = EMPTY


@dataclass(frozen=True, slots=True)
class BrokenVendor:
    id: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class Digest:
    """What the report's digest shows: the sections' counts (``render.counts``'s keys) and
    the rows it lists, read without the rows it only counts."""

    counts: Mapping[str, int]
    in_progress: Sequence[WorkItem]
    blocked: Sequence[WorkItem]
    broken: Sequence[BrokenVendor]
    since: datetime | None = None
    changes: Sequence[Change] = ()
    new_deployments: Sequence[Deployment] = ()


def supported_formats(flags: Mapping[str, Any]) -> tuple[str, ...]:
    """The true format flags: the four standard ones in their usual order, then the rest."""
    extra = sorted(
        name for name, on in flags.items() if on is True and name not in STANDARD_FORMATS
    )
    return tuple(name for name in STANDARD_FORMATS if flags.get(name) is True) + tuple(extra)
