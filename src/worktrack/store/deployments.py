"""SQL for deployments and their links. Rows come back as ``Deployment`` models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, func, insert, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.deployments import AffectedVendor, Deployment, RelatedWorkItem
from worktrack.store import tap
from worktrack.store.vendors import name_key
from worktrack.tables import (
    deployment_vendors,
    deployment_work_items,
    deployments,
    vendors,
    work_items_archive,
)
from worktrack.tables import work_items as work_items_table

_d = deployments.c
_dv = deployment_vendors.c
_dw = deployment_work_items.c
_v = vendors.c


async def vendor_named(conn: AsyncConnection, name: str) -> str | None:
    return await conn.scalar(select(_v.id).where(_v.name_key == name_key(name)))


async def insert_one(
    conn: AsyncConnection,
    values: dict[str, Any],
    vendor_ids: Sequence[str],
    work_item_ids: Sequence[str],
) -> None:
    await conn.execute(insert(deployments).values(**values))
    deployment_id = values["id"]
    tap.wrote(deployments, deployment_id)
    if vendor_ids:
        rows = [{"deployment_id": deployment_id, "vendor_id": v} for v in vendor_ids]
        await conn.execute(insert(deployment_vendors), rows)
    if work_item_ids:
        rows = [{"deployment_id": deployment_id, "work_item_id": w} for w in work_item_ids]
        await conn.execute(insert(deployment_work_items), rows)


async def fetch(conn: AsyncConnection, deployment_id: str) -> Deployment | None:
    rows = (await conn.execute(select(deployments).where(_d.id == deployment_id))).all()
    found = await _with_links(conn, rows)
    return found[0] if found else None


async def fetch_many(conn: AsyncConnection, ids: Sequence[str]) -> list[Deployment]:
    rows = (await conn.execute(select(deployments).where(_d.id.in_(ids)))).all() if ids else []
    return await _with_links(conn, rows)


@dataclass(frozen=True)
class ListFilter:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    vendor_id: str | None = None
    work_item_id: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(_d.deployed_at >= self.since)
        if self.until is not None:
            found.append(_d.deployed_at < self.until)
        if self.vendor_id is not None:
            linked = select(_dv.deployment_id).where(_dv.vendor_id == self.vendor_id)
            found.append(_d.id.in_(linked))
        if self.work_item_id is not None:
            linked = select(_dw.deployment_id).where(_dw.work_item_id == self.work_item_id)
            found.append(_d.id.in_(linked))
        return found


async def list_page(
    conn: AsyncConnection, where: ListFilter, limit: int, after: tuple[datetime, str] | None
) -> tuple[list[Deployment], int]:
    """One page, newest ``deployed_at`` first, plus the count of all matches."""
    conditions = where.conditions()
    total = await conn.scalar(select(func.count()).select_from(deployments).where(*conditions))
    query = select(deployments).where(*conditions)
    if after is not None:
        query = query.where(tuple_(_d.deployed_at, _d.id) < tuple_(*after))
    query = query.order_by(_d.deployed_at.desc(), _d.id.desc()).limit(limit)
    rows = (await conn.execute(query)).all()
    return await _with_links(conn, rows), int(total or 0)


async def _with_links(conn: AsyncConnection, rows: Sequence[Row[Any]]) -> list[Deployment]:
    """The deployments of ``rows`` with their link summaries: one query per link table."""
    ids = [row.id for row in rows]
    vendors_of = await _vendors_of(conn, ids) if ids else {}
    items_of = await _work_items_of(conn, ids) if ids else {}
    if tap.active():
        _seen(rows, vendors_of, items_of)
    return [
        Deployment.model_validate(
            {
                **row._mapping,
                "affected_vendors": vendors_of.get(row.id, []),
                "related_work_items": items_of.get(row.id, []),
            }
        )
        for row in rows
    ]


def _seen(
    rows: Sequence[Row[Any]],
    vendors_of: dict[str, list[AffectedVendor]],
    items_of: dict[str, list[RelatedWorkItem]],
) -> None:
    for row in rows:
        tap.row(deployments, row._mapping)
        vendor_links = [
            {"deployment_id": row.id, "vendor_id": v.id} for v in vendors_of.get(row.id, [])
        ]
        tap.link_set(deployment_vendors, ("deployment_id",), row.id, vendor_links)
        item_links = [
            {"deployment_id": row.id, "work_item_id": w.id} for w in items_of.get(row.id, [])
        ]
        tap.link_set(deployment_work_items, ("deployment_id",), row.id, item_links)


async def _vendors_of(conn: AsyncConnection, ids: list[str]) -> dict[str, list[AffectedVendor]]:
    query = (
        select(_dv.deployment_id, _v.id, _v.name, _v.status)
        .join(vendors, _v.id == _dv.vendor_id)
        .where(_dv.deployment_id.in_(ids))
        .order_by(_v.name_key)
    )
    found: dict[str, list[AffectedVendor]] = {}
    for row in await conn.execute(query):
        vendor = AffectedVendor(id=row.id, name=row.name, status=row.status)
        found.setdefault(row.deployment_id, []).append(vendor)
    return found


def _linked_in(table: Table, ids: list[str]) -> Select[Any]:
    c = table.c
    return (
        select(_dw.deployment_id, c.id, c.item_type, c.title, c.status, c.created_at)
        .join(table, c.id == _dw.work_item_id)
        .where(_dw.deployment_id.in_(ids))
    )


async def _work_items_of(conn: AsyncConnection, ids: list[str]) -> dict[str, list[RelatedWorkItem]]:
    # A linked item may since have moved to the archive; the link still names it.
    linked = union_all(
        _linked_in(work_items_table, ids), _linked_in(work_items_archive, ids)
    ).subquery()
    query = select(linked).order_by(linked.c.created_at, linked.c.id)
    found: dict[str, list[RelatedWorkItem]] = {}
    for row in await conn.execute(query):
        item = RelatedWorkItem(
            id=row.id, item_type=row.item_type, title=row.title, status=row.status
        )
        found.setdefault(row.deployment_id, []).append(item)
    return found
