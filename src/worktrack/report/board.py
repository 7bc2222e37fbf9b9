"""The board's read model (contract §9): bounded, set-based reads of what the page shows.

Like the report's (``readmodel``), a fixed number of statements whatever the size of the
project, each capped: a column holds its first ``COLUMN_CAP`` items (by priority, then
age: the ``ix_work_items_ready`` index) and counts the rest; the drill-down lists
``BRANCH_CAP`` items per level and counts each one's direct children for its progress bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import tables
from worktrack.hierarchy import ancestor_ids
from worktrack.models.board import (
    Board,
    Branch,
    Card,
    Column,
    DeploymentRow,
    EnhancementRow,
    GraphNode,
    GraphView,
    ItemView,
    VendorRow,
)
from worktrack.models.work_items import claim_holds
from worktrack.report import graph, readmodel
from worktrack.report import queries as q
from worktrack.store import tap
from worktrack.tables import OPEN_STATUSES, work_items

COLUMN_CAP = 50
VENDOR_CAP = 50
BRANCH_CAP = 50
ENHANCEMENT_CAP = 50

_w = work_items.c
_LIVE = _w.deleted_at.is_(None)
_ORDER = (_w.priority, _w.created_at, _w.id)
_CARD = select(
    _w.id,
    _w.title,
    _w.item_type,
    _w.status,
    _w.priority,
    _w.labels,
    _w.claimed_by,
    _w.claim_expires_at,
)
_COLUMN = _CARD.where(_LIVE, _w.status == bindparam("status")).order_by(*_ORDER).limit(COLUMN_CAP)
_COUNTS = (
    select(_w.status, func.count()).where(_LIVE, _w.status.in_(OPEN_STATUSES)).group_by(_w.status)
)
_BRANCH = select(_w.id, _w.title, _w.item_type, _w.status, _w.priority)
_ROOTS = _BRANCH.where(_LIVE, _w.depth == 0, _w.status.in_(OPEN_STATUSES)).order_by(*_ORDER)
_ROOT_COUNT = select(func.count()).where(_LIVE, _w.depth == 0, _w.status.in_(OPEN_STATUSES))
_CHILDREN = _BRANCH.where(_LIVE, _w.parent_id == bindparam("parent")).order_by(*_ORDER)
_CHILD_COUNT = select(func.count()).where(_LIVE, _w.parent_id == bindparam("parent"))
_PROGRESS = (
    select(_w.parent_id, _w.status, func.count())
    .where(_LIVE, _w.parent_id.in_(bindparam("ids", expanding=True)))
    .group_by(_w.parent_id, _w.status)
)
_BY_ID = _BRANCH.where(_w.id.in_(bindparam("ids", expanding=True)))
_ITEM = select(work_items).where(_w.id == bindparam("id"))
_v = tables.vendors.c
# Broken vendors first ("broken" sorts before "operational"), then by name.
_VENDORS = q.VENDORS.order_by(None).order_by(_v.status, _v.name_key, _v.id).limit(VENDOR_CAP)
_VENDOR_COUNTS = select(_v.status, func.count()).group_by(_v.status)


async def load(conn: AsyncConnection, now: datetime) -> Board:
    """The whole board as of ``now`` (claims past their lease at ``now`` are not shown)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(q.ONE_SNAPSHOT)
    roots, more_roots = await _branches(conn, _ROOTS, _ROOT_COUNT, {})
    enhancements = (await conn.execute(q.ENHANCEMENTS.limit(ENHANCEMENT_CAP + 1))).all()
    return Board(
        read_at=now,
        columns=await _columns(conn, now),
        roots=roots,
        more_roots=more_roots,
        graph=_graph(await graph.load(conn)),
        vendors=[_vendor(v) for v in await readmodel.vendors(conn, _VENDORS)],
        vendor_counts={status: n for status, n in await conn.execute(_VENDOR_COUNTS)},
        deployments=[_deployment(d) for d in await readmodel.recent_deployments(conn)],
        enhancements=[_enhancement(e) for e in enhancements[:ENHANCEMENT_CAP]],
        more_enhancements=await _more_enhancements(conn, len(enhancements)),
    )


async def _columns(conn: AsyncConnection, now: datetime) -> list[Column]:
    totals: dict[str, int] = {status: n for status, n in await conn.execute(_COUNTS)}
    columns = []
    for status in OPEN_STATUSES:
        rows = (await conn.execute(_COLUMN, {"status": status})).all() if totals.get(status) else []
        columns.append(Column(status=status, total=totals.get(status, 0), cards=_cards(rows, now)))
    return columns


def _cards(rows: Sequence[Any], now: datetime) -> list[Card]:
    cards = []
    for row in rows:
        tap.touched(tables.work_items, row.id)
        held = claim_holds(row.claimed_by, row.claim_expires_at, now)
        cards.append(
            Card(
                id=row.id,
                title=row.title,
                item_type=row.item_type,
                status=row.status,
                priority=row.priority,
                labels=_labels(row.labels),
                claimed_by=row.claimed_by if held else None,
            )
        )
    return cards


def _labels(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


async def _branches(
    conn: AsyncConnection, listed: Any, counted: Any, params: dict[str, Any]
) -> tuple[list[Branch], int]:
    """The first ``BRANCH_CAP`` items ``listed`` selects with their progress, and how many
    more ``counted`` counts."""
    rows = (await conn.execute(listed.limit(BRANCH_CAP), params)).all()
    total = int(await conn.scalar(counted, params) or 0)
    return await _with_progress(conn, rows), max(0, total - len(rows))


async def _with_progress(conn: AsyncConnection, rows: Iterable[Any]) -> list[Branch]:
    rows = list(rows)
    done: dict[str, int] = {}
    total: dict[str, int] = {}
    if rows:
        ids = [row.id for row in rows]
        for parent, status, count in await conn.execute(_PROGRESS, {"ids": ids}):
            # as the report and query_work_item count: completed of what is not cancelled
            if status != "cancelled":
                total[parent] = total.get(parent, 0) + count
            done[parent] = done.get(parent, 0) + (count if status == "completed" else 0)
    branches = []
    for row in rows:
        tap.touched(tables.work_items, row.id)
        branches.append(
            Branch(
                id=row.id,
                title=row.title,
                item_type=row.item_type,
                status=row.status,
                priority=row.priority,
                done=done.get(row.id, 0),
                total=total.get(row.id, 0),
            )
        )
    return branches


async def children(conn: AsyncConnection, parent_id: str) -> tuple[list[Branch], int]:
    return await _branches(conn, _CHILDREN, _CHILD_COUNT, {"parent": parent_id})


async def item(conn: AsyncConnection, item_id: str, read_at: datetime) -> ItemView | None:
    row = (await conn.execute(_ITEM, {"id": item_id})).mappings().first()
    if row is None:
        return None
    values = dict(row)
    tap.row(work_items, values)
    above_ids = ancestor_ids(values["path"])
    above = {r.id: r for r in await conn.execute(_BY_ID, {"ids": above_ids})}
    ancestors = await _with_progress(conn, [above[i] for i in above_ids if i in above])
    below, more = await children(conn, values["id"])
    return ItemView(
        read_at=read_at,
        labels=_labels(values.get("labels")),
        description=values.get("description"),
        acceptance_criteria=values.get("acceptance_criteria"),
        deleted=values["deleted_at"] is not None,
        ancestors=ancestors,
        children=below,
        more_children=more,
        **{k: values[k] for k in _ITEM_FIELDS},
    )


_ITEM_FIELDS = (
    "id",
    "version",
    "title",
    "item_type",
    "status",
    "priority",
    "claimed_by",
    "claim_expires_at",
    "branch_name",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)


def _graph(found: graph.Graph) -> GraphView:
    return GraphView(
        nodes=[
            GraphNode(id=n.id, title=n.title, status=n.status, priority=n.priority)
            for n in found.nodes
        ],
        edges=list(found.edges),
        left_out=found.left_out,
    )


def _vendor(v: Any) -> VendorRow:
    tap.touched(tables.vendors, v.id)
    return VendorRow(
        id=v.id,
        name=v.name,
        status=v.status,
        passing=v.passing,
        total=v.total,
        skipped=v.skipped,
        formats=list(v.formats),
    )


def _deployment(d: Any) -> DeploymentRow:
    tap.touched(tables.deployments, d.id)
    return DeploymentRow(
        id=d.id,
        deployed_at=d.deployed_at,
        commit_hash=d.commit_hash,
        pr_number=d.pr_number,
        pr_title=d.pr_title,
        compliant=d.compliant,
    )


def _enhancement(row: Any) -> EnhancementRow:
    tap.touched(tables.enhancements, row.id)
    return EnhancementRow(
        id=row.id,
        title=row.title,
        priority=row.priority,
        status=row.status,
        target_quarter=row.target_quarter,
    )


async def _more_enhancements(conn: AsyncConnection, read: int) -> int:
    if read <= ENHANCEMENT_CAP:
        return 0
    return int(await conn.scalar(q.ENHANCEMENT_COUNT) or 0) - ENHANCEMENT_CAP
