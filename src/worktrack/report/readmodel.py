"""What the status report shows: a fixed number of set-based queries (``queries``) read in
one transaction into the read model's frozen rows."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import tables
from worktrack.db import loads
from worktrack.hierarchy import ancestor_ids
from worktrack.report import graph, render
from worktrack.report import queries as q
from worktrack.report.model import (
    BrokenVendor,
    Change,
    Deployment,
    Digest,
    Enhancement,
    Snapshot,
    Vendor,
    WorkItem,
    supported_formats,
)
from worktrack.store import tap


async def load(conn: AsyncConnection, since: datetime | None = None) -> Snapshot:
    if conn.dialect.name == "postgresql":
        await conn.execute(q.ONE_SNAPSHOT)
    window = {"since": since}
    names = await _vendor_names(conn, q.NAMES if since is None else q.NAMES_WITH_SINCE, window)
    snapshot = Snapshot(
        vendors=await _vendors(conn),
        work_items=await _work_items(conn),
        deployments=await _deployments(conn, q.RECENT, window, names),
        enhancements=[Enhancement(*row) for row in await conn.execute(q.ENHANCEMENTS)],
        graph=await graph.load(conn),
    )
    if tap.active():
        _shown(snapshot)
    if since is None:
        return snapshot
    return replace(
        snapshot,
        since=since,
        changes=await _changes(conn, since),
        new_deployments=await _deployments(conn, q.SINCE, window, names),
    )


async def load_digest(conn: AsyncConnection, since: datetime | None = None) -> Digest:
    """The digest's read: the counts of every section and the rows it lists (items in
    progress or blocked, broken vendors, what changed), in one snapshot like ``load``."""
    if conn.dialect.name == "postgresql":
        await conn.execute(q.ONE_SNAPSHOT)
    vendor_count, operational = (await conn.execute(q.VENDOR_COUNTS)).one()
    listed = sorted((await conn.execute(q.LISTED_WORK_ITEMS)).all(), key=_REPORT_ORDER)
    shown = {row.id for row in listed}
    above = {a for row in listed for a in ancestor_ids(row.path)} - shown
    items = [_work_item(row, ()) for row in listed]
    digest = Digest(
        counts={
            "vendors": vendor_count,
            "operational_vendors": operational,
            "active_work_items": len(shown) + len(above),  # as the report: with ancestors
            "deployments": (await conn.execute(q.RECENT_COUNT)).scalar_one(),
            "enhancements": (await conn.execute(q.ENHANCEMENT_COUNT)).scalar_one(),
        },
        in_progress=[i for i in items if i.status == "in_progress"],
        blocked=[i for i in items if i.status == "blocked"],
        broken=[BrokenVendor(*row) for row in await conn.execute(q.BROKEN_VENDORS)],
    )
    if tap.active():
        for item in (*digest.in_progress, *digest.blocked):
            tap.touched(tables.work_items, item.id)
        for vendor in digest.broken:
            tap.touched(tables.vendors, vendor.id)
    if since is None:
        return digest
    return replace(
        digest,
        since=since,
        changes=await _changes(conn, since),
        new_deployments=await _deployments(conn, q.SINCE, {"since": since}, {}),
    )


def digest_of(snapshot: Snapshot) -> Digest:
    """The digest of a whole snapshot already read (``load_digest`` reads less)."""
    return Digest(
        counts=render.counts(snapshot),
        in_progress=[i for i in snapshot.work_items if i.status == "in_progress"],
        blocked=[i for i in snapshot.work_items if i.status == "blocked"],
        broken=[
            BrokenVendor(v.id, v.name, v.status)
            for v in snapshot.vendors
            if v.status != "operational"
        ],
        since=snapshot.since,
        changes=snapshot.changes,
        new_deployments=snapshot.new_deployments,
    )


def _shown(snapshot: Snapshot) -> None:
    """Name every entity the report shows (a fallback layer dates its answer by them)."""
    for table, rows in (
        (tables.vendors, snapshot.vendors),
        (tables.work_items, snapshot.work_items),
        (tables.deployments, snapshot.deployments),
        (tables.enhancements, snapshot.enhancements),
    ):
        for row in rows:
            tap.touched(table, row.id)


async def _work_items(conn: AsyncConnection) -> list[WorkItem]:
    """The listed items and their ancestors, siblings in report order, with what blocks
    them: three statements whatever the depth (an item's ancestors are the ids on its path)."""
    listed = (await conn.execute(q.LISTED_WORK_ITEMS)).all()
    shown = {row.id for row in listed}
    above = {a for row in listed for a in ancestor_ids(row.path)} - shown
    rows = [*listed, *await conn.execute(q.WORK_ITEMS_BY_ID, {"ids": sorted(above)})]
    rows.sort(key=_REPORT_ORDER)
    blockers: dict[str, dict[str, str]] = {}
    for waiter_id, blocker_id, title in await conn.execute(q.UNMET):
        blockers.setdefault(waiter_id, {})[blocker_id] = title  # each blocker once
    return [_work_item(row, tuple(blockers.get(row.id, {}).values())) for row in rows]


def _work_item(row: Any, blocked_by: tuple[str, ...]) -> WorkItem:
    labels = row.labels if isinstance(row.labels, list) else []
    to_do = row.to_do_below
    return WorkItem(
        row.id,
        row.version,
        row.title,
        row.item_type,
        row.status,
        row.parent_id,
        row.created_at,
        row.branch_name,
        priority=row.priority,
        labels=tuple(str(label) for label in labels),
        claimed_by=row.claimed_by,
        claim_expires_at=row.claim_expires_at,
        blocked_by=blocked_by,
        progress=(row.completed_below, to_do) if to_do else None,
    )


# Report order: priority, then age, then id (the tree keeps siblings in this order).
_REPORT_ORDER = attrgetter("priority", "created_at", "id")


def _count(results: Mapping[str, Any], key: str) -> int:
    value = results.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@functools.lru_cache(maxsize=16_384)
def _vendor_numbers(metadata: str | None) -> tuple[int, int, int, tuple[str, ...]]:
    """Test counts and formats from a vendor's stored metadata (as text): decoded once
    per distinct text, as thousands of vendors change rarely."""
    meta = _object(loads(metadata) if metadata is not None else None)
    results = _object(meta.get("test_results"))
    return (
        _count(results, "passing"),
        _count(results, "total"),
        _count(results, "skipped"),
        supported_formats(_object(meta.get("format_support"))),
    )


async def _vendors(conn: AsyncConnection, query: Select[Any] = q.VENDORS) -> list[Vendor]:
    # Unpacked: looking columns up by name on each row cost more than building the row.
    return [
        Vendor(vendor_id, version, name, status, *_vendor_numbers(metadata), extractor_version)
        for vendor_id, version, name, status, extractor_version, metadata in await conn.execute(
            query
        )
    ]


async def _vendor_names(
    conn: AsyncConnection, query: Select[Any], window: dict[str, Any]
) -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = {}
    for deployment_id, name in await conn.execute(query, window):
        names.setdefault(deployment_id, []).append(name)
    return {key: tuple(value) for key, value in names.items()}


async def _deployments(
    conn: AsyncConnection,
    query: Select[Any],
    window: dict[str, Any],
    names: Mapping[str, tuple[str, ...]],
) -> list[Deployment]:
    found = []
    for row in await conn.execute(query, window):
        meta = _object(row.metadata)
        summary = _object(meta.get("test_summary"))
        pr_number, pr_title = meta.get("pr_number"), meta.get("pr_title")
        found.append(
            Deployment(
                id=row.id,
                deployed_at=row.deployed_at,
                commit_hash=row.commit_hash,
                pr_number=pr_number if isinstance(pr_number, int) else None,
                pr_title=pr_title if isinstance(pr_title, str) else None,
                # Sorted: Postgres (jsonb) does not keep the order the keys were written in.
                tests=tuple(sorted((str(k), _count(summary, k)) for k in summary)),
                compliant=meta.get("constitutional_compliance") is True,
                vendors=names.get(row.id, ()),
            )
        )
    return found


async def _changes(conn: AsyncConnection, since: datetime) -> list[Change]:
    latest: dict[tuple[str, str], Change] = {}
    for change_version, status, at, *item in await conn.execute(q.CHANGES, {"since": since}):
        kinds = ["created"] if change_version == 1 else []
        kinds += [status] if status in ("completed", "blocked") else []
        for kind in kinds:
            latest.pop((kind, item[0]), None)  # listed once, at its latest time
            latest[(kind, item[0])] = Change(kind, at, *item)
    return list(latest.values())


async def vendors(conn: AsyncConnection, query: Select[Any] = q.VENDORS) -> list[Vendor]:
    """The vendors ``query`` selects (every one by default), as the report lists them."""
    return await _vendors(conn, query)


async def recent_deployments(conn: AsyncConnection) -> list[Deployment]:
    """The report's recent deployments as the board shows them: without their vendors'
    names (the board does not list them, so they are not read)."""
    return await _deployments(conn, q.RECENT, {"since": None}, {})
