"""What the parser reads back from a status file: entities as written, plus the lines it could
not attribute. Values the file does not carry (ids and versions in legacy files, skipped
counts in single-line legacy vendors, ...) are None; ``line`` is where each entity starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

STANDARD_FLAGS = ("excel", "csv", "pdf", "ocr")


@dataclass(frozen=True, slots=True)
class ParsedVendor:
    line: int
    id: str | None
    version: int | None
    name: str
    status: str
    passing: int | None = None
    total: int | None = None
    skipped: int | None = None
    formats: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(STANDARD_FLAGS, False))
    extractor_version: str | None = None
    formats_listed: bool = False  # False: no "[...]" list, so ``formats`` is only the default


@dataclass(frozen=True, slots=True)
class ParsedWorkItem:
    line: int
    id: str | None
    version: int | None
    title: str
    item_type: str
    depth: int
    parent_id: str | None = None
    parent_index: int | None = None  # the enclosing entry in ``work_items``, by nesting
    parent_title: str | None = None  # from a legacy "- **Parent**:" line
    status: str | None = None
    created_at: datetime | None = None
    branch: str | None = None
    priority: int | None = None
    labels: tuple[str, ...] = ()
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    blocked_by: tuple[str, ...] = ()  # titles, as written
    progress: tuple[int, int] | None = None  # (completed, total not cancelled)


@dataclass(frozen=True, slots=True)
class ParsedDeployment:
    line: int
    id: str | None
    version: int | None
    deployed_at: datetime
    pr_number: int | None
    title: str | None = None
    commit: str | None = None  # as written: 7 characters in reports, 40 in legacy files
    tests: dict[str, int] = field(default_factory=dict)
    compliance: bool | None = None
    vendors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedEnhancement:
    line: int
    id: str | None
    version: int | None
    title: str
    priority: int
    status: str | None = None
    target: str | None = None  # as written: "2026-Q4" or "Q4 2026"
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedChange:
    """One line of a "Changes Since" section; ``kind`` is its subsection, lower case."""

    line: int
    kind: str
    id: str | None
    version: int | None
    text: str


@dataclass(frozen=True)
class ParsedStatus:
    generated_at: datetime | None
    vendors: list[ParsedVendor]
    work_items: list[ParsedWorkItem]
    deployments: list[ParsedDeployment]
    enhancements: list[ParsedEnhancement]
    changes_since: datetime | None
    changes: list[ParsedChange]
    errors: list[tuple[int, str]]  # (line number, what is wrong with it), in file order
