"""What the import wrote, read back and compared with what the files held. Pure.

The five checks of the contract (plus a work-item count) compare counts; the preservation
percentage compares every entity's stored values with the values planned for it. Skipped
prompt files count as entities not preserved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from worktrack.legacy.plan import Default, Plan
from worktrack.models.deployments import Deployment
from worktrack.models.enhancements import Enhancement
from worktrack.models.legacy import Check, DefaultApplied, Reconciliation
from worktrack.models.vendors import Vendor
from worktrack.models.work_items import WorkItem
from worktrack.report.parsed import STANDARD_FLAGS

_COUNTS = ("passing", "total", "skipped")


@dataclass(frozen=True)
class Shipped:
    id: str
    commit_hash: str
    vendor_ids: list[str]


@dataclass
class Written:
    """The ids the import created, in plan order."""

    vendors: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    deployments: list[Shipped] = field(default_factory=list)
    enhancements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stored:
    """What the database holds under those ids now."""

    vendors: dict[str, Vendor]
    items: dict[str, WorkItem]
    deployments: dict[str, Deployment]
    enhancements: dict[str, Enhancement]


@dataclass(frozen=True)
class Outcome:
    reconciliation: Reconciliation
    percentage: float

    @property
    def matches(self) -> bool:
        return all(check.match for _, check in self.reconciliation)


@dataclass(frozen=True)
class _Row:
    """One planned entity: is it stored, and stored with the values planned?"""

    found: bool
    kept: bool
    complete: bool = True  # vendors: all format flags, test counts and a version


def _check(source: int, migrated: int) -> Check:
    return Check(source=source, migrated=migrated, match=source == migrated)


def _found(rows: list[_Row]) -> Check:
    return _check(len(rows), sum(row.found for row in rows))


def unwritten(plan: Plan) -> Reconciliation:
    """The checks of an import that wrote nothing (or whose writes were undone early)."""
    return reconcile(plan, Written(), Stored({}, {}, {}, {})).reconciliation


def reconcile(plan: Plan, written: Written, stored: Stored) -> Outcome:
    vendors = _vendors(plan, written, stored)
    items = _items(plan, written, stored)
    shipped = _deployments(plan, written, stored)
    wishes = _enhancements(plan, written, stored)
    pairs = list(zip(plan.items, items, strict=True))
    prompts = [row for item, row in pairs if item.prompt_file is not None]
    in_file = [row for item, row in pairs if item.prompt_file is None]
    reconciliation = Reconciliation(
        vendor_count=_found(vendors),
        deployment_count=_found(shipped),
        enhancement_count=_found(wishes),
        session_prompt_count=_found(prompts),
        vendor_metadata=_check(len(vendors), sum(row.kept and row.complete for row in vendors)),
        work_item_count=_found(in_file),
    )
    rows = [*vendors, *items, *shipped, *wishes]
    total = len(rows) + len(plan.skipped)
    kept = sum(row.kept for row in rows)
    return Outcome(reconciliation, round(100 * kept / total, 2) if total else 100.0)


def _ids(written: list[str], planned: int) -> list[str | None]:
    return [*written, *[None] * (planned - len(written))]


def _vendors(plan: Plan, written: Written, stored: Stored) -> list[_Row]:
    rows = []
    for (_, planned), vendor_id in zip(
        plan.vendors, _ids(written.vendors, len(plan.vendors)), strict=True
    ):
        found = stored.vendors.get(vendor_id) if vendor_id else None
        if found is None:
            rows.append(_Row(found=False, kept=False, complete=False))
            continue
        values = (found.name, found.status, found.extractor_version, found.metadata)
        expected = (planned.name, planned.status, planned.extractor_version, planned.metadata)
        rows.append(_Row(found=True, kept=values == expected, complete=complete(found)))
    return rows


def complete(vendor: Vendor) -> bool:
    """Every format flag, every test count and a version, as the contract's check asks."""
    flags, counts = vendor.metadata.get("format_support"), vendor.metadata.get("test_results")
    has_flags = isinstance(flags, dict) and all(
        isinstance(flags.get(name), bool) for name in STANDARD_FLAGS
    )
    has_counts = isinstance(counts, dict) and all(type(counts.get(name)) is int for name in _COUNTS)
    has_version = bool(vendor.extractor_version) and (
        vendor.metadata.get("extractor_version") == vendor.extractor_version
    )
    return has_flags and has_counts and has_version


def _items(plan: Plan, written: Written, stored: Stored) -> list[_Row]:
    ids = _ids(written.items, len(plan.items))
    rows = []
    for planned, item_id in zip(plan.items, ids, strict=True):
        found = stored.items.get(item_id) if item_id else None
        if found is None:
            rows.append(_Row(found=False, kept=False))
            continue
        entry = planned.entry
        parent = None if planned.parent is None else ids[planned.parent]
        values = (found.item_type, found.title, found.status, found.priority, found.branch_name)
        same = values == (
            entry.item_type,
            entry.title,
            entry.status,
            entry.priority,
            entry.branch_name,
        )
        same = same and found.metadata == entry.metadata and found.parent_id == parent
        same = same and planned.created_at in (None, found.created_at)
        rows.append(_Row(found=True, kept=same))
    return rows


def _deployments(plan: Plan, written: Written, stored: Stored) -> list[_Row]:
    rows = []
    for n, planned in enumerate(plan.deployments):
        shipped = written.deployments[n] if n < len(written.deployments) else None
        found = stored.deployments.get(shipped.id) if shipped else None
        if shipped is None or found is None:
            rows.append(_Row(found=False, kept=False))
            continue
        same = (found.deployed_at, found.commit_hash) == (planned.deployed_at, shipped.commit_hash)
        same = same and found.metadata == planned.metadata | {"commit_hash": shipped.commit_hash}
        same = same and sorted(v.id for v in found.affected_vendors) == sorted(shipped.vendor_ids)
        rows.append(_Row(found=True, kept=same))
    return rows


def _enhancements(plan: Plan, written: Written, stored: Stored) -> list[_Row]:
    rows = []
    for (_, planned), enhancement_id in zip(
        plan.enhancements, _ids(written.enhancements, len(plan.enhancements)), strict=True
    ):
        found = stored.enhancements.get(enhancement_id) if enhancement_id else None
        if found is None:
            rows.append(_Row(found=False, kept=False))
            continue
        values = {name: getattr(found, name) for name in type(planned).model_fields}
        rows.append(_Row(found=True, kept=values == planned.model_dump()))
    return rows


def defaults_applied(defaults: list[Default]) -> list[DefaultApplied]:
    """Each (entity, field, value) once, with everything it went to, in the order applied."""
    grouped: dict[tuple[str, str, str], DefaultApplied] = {}
    for default in defaults:
        key = (default.entity, default.field, json.dumps(default.value, sort_keys=True))
        if key not in grouped:
            grouped[key] = DefaultApplied(
                entity=default.entity, field=default.field, value=default.value, applied_to=[]
            )
        grouped[key].applied_to.append(default.applied_to)
    return list(grouped.values())
