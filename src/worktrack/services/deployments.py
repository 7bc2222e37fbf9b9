"""Deployments: immutable records of what shipped, when, and what it touched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import gitrepo
from worktrack.errors import NotFoundError, ValidationError
from worktrack.models.deployments import Deployment, DeploymentPage, checked_metadata
from worktrack.services.app import App, reads, writes
from worktrack.services.common import decode_cursor, encode_cursor
from worktrack.services.work_items import load_any
from worktrack.store import deployments as store
from worktrack.store.sql import resolve_all, resolve_id
from worktrack.tables import deployments as deployments_table
from worktrack.tables import vendors as vendors_table
from worktrack.tables import work_items as work_items_table

ENTITY = "deployment"


def _aware(field: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValidationError(field, "needs a UTC offset, e.g. 2026-11-22T10:15:00+00:00")


async def _head(app: App) -> str:
    head = await gitrepo.head_commit(app.settings.repo)
    if head is None:
        raise ValidationError(
            "commit_hash", "not given, and WORKTRACK_REPO has no git commit to default to"
        )
    return head


@writes(
    "record_deployment",
    Deployment,
    entity=ENTITY,
    keep=("id", "deployed_at", "commit_hash"),
)
async def record_deployment(
    app: App,
    conn: AsyncConnection,
    *,
    metadata: dict[str, Any],
    deployed_at: datetime | None = None,
    commit_hash: str | None = None,
    affected_vendor_ids: Sequence[str] | None = None,
    related_work_item_ids: Sequence[str] | None = None,
    created_by: str | None = None,
    request_id: str | None = None,
    id: str | None = None,
) -> Deployment:
    checked = checked_metadata(metadata)
    _aware("deployed_at", deployed_at)
    # A commit named only in the metadata is still the caller's word, so HEAD is the
    # default only when neither names one.
    commit = commit_hash or checked.commit_hash or await _head(app)
    if checked.commit_hash not in (None, commit):
        raise ValidationError("metadata.commit_hash", f"must equal commit_hash {commit}")
    vendor_ids = await resolve_all(
        conn,
        affected_vendor_ids or [],
        kind="vendor",
        table=vendors_table,
        field="affected_vendor_ids",
    )
    item_ids = await resolve_all(
        conn,
        related_work_item_ids or [],
        kind="work_item",
        table=work_items_table,
        field="related_work_item_ids",
    )
    now, deployment_id = app.clock(), id or str(uuid4())
    values = {
        "id": deployment_id,
        "deployed_at": deployed_at or now,
        "commit_hash": commit,
        "metadata": checked.model_dump(mode="json") | {"commit_hash": commit},
        "created_at": now,
        "created_by": app.who(created_by),
    }
    await store.insert_one(conn, values, vendor_ids, item_ids)
    return await _load(conn, deployment_id)


async def _load(conn: AsyncConnection, ref: str) -> Deployment:
    deployment_id = await resolve_id(conn, ref, ENTITY, deployments_table)
    found = await store.fetch(conn, deployment_id)
    if found is None:
        raise NotFoundError(ENTITY, id=deployment_id)
    return found


@reads
async def query_deployment(app: App, conn: AsyncConnection, *, id: str) -> Deployment:
    return await _load(conn, id)


async def _filter(
    conn: AsyncConnection,
    since: datetime | None,
    until: datetime | None,
    vendor_name: str | None,
    work_item_id: str | None,
) -> store.ListFilter:
    _aware("since", since)
    _aware("until", until)
    vendor_id = await store.vendor_named(conn, vendor_name) if vendor_name else None
    if vendor_name and vendor_id is None:
        raise NotFoundError("vendor", name=vendor_name)
    if work_item_id:
        # archived items keep their links, so they are found too
        work_item_id = (await load_any(conn, work_item_id, field="work_item_id")).id
    return store.ListFilter(since, until, vendor_id, work_item_id)


@reads
async def list_deployments(
    app: App,
    conn: AsyncConnection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    vendor_name: str | None = None,
    work_item_id: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> DeploymentPage:
    where = await _filter(conn, since, until, vendor_name, work_item_id)
    scope = asdict(where)
    after = _position(decode_cursor(cursor, scope)) if cursor else None
    rows, total = await store.list_page(conn, where, limit + 1, after)
    page = rows[:limit]
    more = len(rows) > limit
    return DeploymentPage(
        items=list(page),
        total_count=total,
        next_cursor=encode_cursor([page[-1].deployed_at, page[-1].id], scope) if more else None,
    )


def _position(raw: list[Any]) -> tuple[datetime, str]:
    try:
        deployed_at, deployment_id = raw
        position = datetime.fromisoformat(deployed_at), str(deployment_id)
    except (TypeError, ValueError):
        position = None
    if position is None or position[0].tzinfo is None:
        raise ValidationError("cursor", "not a cursor this server issued")
    return position
