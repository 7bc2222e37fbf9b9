"""A throwaway in-memory database built from a status file.

The git-history and markdown layers answer reads by running the very same units of work
on it, so every read tool works on every layer. The file carries less than the database
(no metadata, no priorities, only active work items and their ancestors); what it lacks
gets neutral values, and ``AUTHOR`` marks the audit fields as coming from the file.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Database, DataSource, create_engine
from worktrack.hierarchy import child_path
from worktrack.report.parsed import (
    ParsedDeployment,
    ParsedEnhancement,
    ParsedStatus,
    ParsedVendor,
    ParsedWorkItem,
)
from worktrack.store import cache as cache_store
from worktrack.tables import (
    ITEM_STATUSES,
    ITEM_TYPES,
    VENDOR_STATUSES,
    deployment_vendors,
    deployments,
    enhancements,
    metadata,
    vendors,
    work_items,
)

AUTHOR = "status file"
_NAMESPACE = uuid.UUID("5b0d3c0e-6f1e-4c57-9d0a-2b8f8f7c3e11")
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])|Q([1-4]) ([0-9]{4})")
_ENHANCEMENT_STATUSES = ("planned", "approved", "implementing", "completed")
Rows = dict[Table, list[dict[str, Any]]]


class BadStatusFile(Exception):
    """The file reads, but holds something no database row could."""


def _id(given: str | None, kind: str, line: int, name: str) -> str:
    # Legacy files carry no ids: a stable one per entry keeps lookups repeatable.
    return given or str(uuid.uuid5(_NAMESPACE, f"{kind}:{line}:{name}"))


def _audit(at: datetime) -> dict[str, Any]:
    return {"created_at": at, "updated_at": at, "created_by": AUTHOR, "updated_by": AUTHOR}


def _check(value: str | None, allowed: Sequence[str], what: str, line: int) -> str:
    if value is None or value not in allowed:
        raise BadStatusFile(f"line {line}: {what} {value!r} is not one of {', '.join(allowed)}")
    return value


def rows_of(parsed: ParsedStatus, as_of: datetime) -> Rows:
    vendor_rows = [_vendor(v, as_of) for v in parsed.vendors]
    by_name = {row["name"].casefold(): row["id"] for row in vendor_rows}
    deployment_rows, links = [], []
    for d in parsed.deployments:
        row = _deployment(d, as_of)
        deployment_rows.append(row)
        links += [
            {"deployment_id": row["id"], "vendor_id": by_name[name.casefold()]}
            for name in d.vendors
            if name.casefold() in by_name
        ]
    return {
        vendors: vendor_rows,
        work_items: _work_items(parsed.work_items, as_of),
        deployments: deployment_rows,
        deployment_vendors: links,
        enhancements: [_enhancement(e, as_of) for e in parsed.enhancements],
    }


def _vendor(v: ParsedVendor, as_of: datetime) -> dict[str, Any]:
    version = v.extractor_version or "unknown"
    return {
        "id": _id(v.id, "vendor", v.line, v.name),
        "version": v.version or 1,
        "name": v.name,
        "name_key": v.name.casefold(),
        "status": _check(v.status, VENDOR_STATUSES, "vendor status", v.line),
        "extractor_version": version,
        "metadata": {
            "format_support": dict(v.formats),
            "test_results": {
                "passing": v.passing or 0,
                "total": v.total or 0,
                "skipped": v.skipped or 0,
            },
            "extractor_version": version,
        },
        **_audit(as_of),
    }


def _work_items(items: Sequence[ParsedWorkItem], as_of: datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in items:
        parent = rows[item.parent_index] if item.parent_index is not None else None
        item_id = _id(item.id, "work_item", item.line, item.title)
        path = child_path(parent["path"] if parent else None, item_id)
        rows.append(
            {
                "id": item_id,
                "version": item.version or 1,
                "item_type": _check(item.item_type, ITEM_TYPES, "item type", item.line),
                "title": item.title,
                "description": None,
                "acceptance_criteria": None,
                "status": _check(item.status or "active", ITEM_STATUSES, "status", item.line),
                "priority": 2 if item.priority is None else item.priority,
                "labels": list(item.labels),
                "parent_id": parent["id"] if parent else None,
                "path": path,
                "depth": item.depth,
                "branch_name": item.branch,
                "commit_hash": None,
                "pr_number": None,
                "metadata": {},
                "search_text": item.title.casefold(),
                "claimed_by": item.claimed_by,
                "claim_expires_at": item.claim_expires_at if item.claimed_by else None,
                "deleted_at": None,
                **_audit(as_of),
                "created_at": item.created_at or as_of,
            }
        )
    return rows


def _deployment(d: ParsedDeployment, as_of: datetime) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "test_summary": dict(d.tests),
        "constitutional_compliance": bool(d.compliance),
        "commit_hash": d.commit or "",
    }
    if d.pr_number is not None:
        meta["pr_number"] = d.pr_number
    if d.title is not None:
        meta["pr_title"] = d.title
    return {
        "id": _id(d.id, "deployment", d.line, d.deployed_at.isoformat()),
        "deployed_at": d.deployed_at,
        "commit_hash": d.commit or "",
        "metadata": meta,
        "created_at": d.deployed_at,
        "created_by": AUTHOR,
    }


def _enhancement(e: ParsedEnhancement, as_of: datetime) -> dict[str, Any]:
    return {
        "id": _id(e.id, "enhancement", e.line, e.title),
        "version": e.version or 1,
        "title": e.title,
        "description": e.description,
        "priority": min(max(e.priority, 1), 5),
        "status": _check(e.status or "planned", _ENHANCEMENT_STATUSES, "status", e.line),
        "target_quarter": quarter(e.target),
        "requires_constitutional_principles": [],
        **_audit(as_of),
    }


def quarter(text: str | None) -> str | None:
    """``2026-Q4`` or ``Q4 2026`` as ``2026-Q4``; anything else as no quarter."""
    found = _QUARTER.fullmatch((text or "").strip())
    if found is None:
        return None
    year, number = (found[1], found[2]) if found[1] else (found[4], found[3])
    return f"{year}-Q{number}"


async def build(
    rows: Rows, source: DataSource, overlay: Mapping[str, list[dict[str, Any]]] | None = None
) -> Database:
    """An in-memory database holding ``rows``, then ``overlay`` (by table name) on top of
    them: an overlay row replaces a row of the same key unless that one is newer."""
    db = Database(create_engine("sqlite+aiosqlite://", foreign_keys=False), source)

    async def fill(conn: AsyncConnection) -> None:
        await conn.run_sync(metadata.create_all)
        for table, found in rows.items():
            if found:
                await conn.execute(table.insert(), found)
        for name, found in (overlay or {}).items():
            if found:
                await cache_store.upsert(conn, metadata.tables[name], found)

    try:
        await db.run(fill, write=True)
    except BaseException:
        await db.dispose()
        raise
    return db
