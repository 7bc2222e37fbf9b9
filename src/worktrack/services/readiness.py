"""The readiness rule (contract §4, ADR 0014): what an assistant can start now, what is
held up and by what, and claiming the next ready item."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.hierarchy import ancestor_ids
from worktrack.models.readiness import (
    PREVIEW,
    BlockedBy,
    BlockedItem,
    BlockedWork,
    ReadyItem,
    ReadyWork,
)
from worktrack.models.work_items import WorkItem, checked_label
from worktrack.services.app import App, reads
from worktrack.services.work_items import load
from worktrack.store import readiness as store
from worktrack.store.readiness import Blocker, Scope

# Candidates the claim tries in order: another claimer may take one between the query and
# the claim's conditional UPDATE, which then moves on to the next.
_CANDIDATES = 25


async def _scope(
    conn: AsyncConnection, item_type: str | None, parent_id: str | None, label: str | None
) -> Scope:
    label = checked_label(label) if label is not None else None
    under = (await load(conn, parent_id)).path if parent_id else None
    return Scope(item_type=item_type, under_path=under, label=label)


def _ready_item(row: dict[str, Any]) -> ReadyItem:
    description = row.get("description")
    return ReadyItem.model_validate(
        row | {"description": description[:PREVIEW] if description else description}
    )


@reads
async def ready_work(
    app: App,
    conn: AsyncConnection,
    *,
    item_type: str | None = None,
    parent_id: str | None = None,
    label: str | None = None,
    limit: int = 10,
) -> ReadyWork:
    scope = await _scope(conn, item_type, parent_id, label)
    found = await store.ready(conn, scope, actor=app.actor, now=app.clock(), limit=limit)
    return ReadyWork(items=[_ready_item(row) for row in found])


async def claim_next(
    conn: AsyncConnection, *, actor: str, now: datetime, until: datetime
) -> WorkItem | None:
    """Claim the first item ready_work would give ``actor``, or None when nothing is ready."""
    scope = Scope()
    for candidate in await store.ready(conn, scope, actor=actor, now=now, limit=_CANDIDATES):
        claimed = await store.claim_if_ready(
            conn, scope, candidate["id"], actor=actor, until=until, now=now
        )
        if claimed is not None:
            return claimed
    return None


def _blocked_item(row: dict[str, Any], blockers: dict[str, list[Blocker]]) -> BlockedItem:
    own = [
        BlockedBy(id=b.id, title=b.title, status=b.status, via="dependency")  # type: ignore[arg-type]
        for b in blockers.get(row["id"], [])
    ]
    above = [
        BlockedBy(id=b.id, title=b.title, status=b.status, via="ancestor")  # type: ignore[arg-type]
        for ancestor in ancestor_ids(row["path"])
        for b in blockers.get(ancestor, [])
    ]
    reason = (row.get("metadata") or {}).get("blocked_reason")
    unique: dict[str, BlockedBy] = {}
    for blocker in own + above:  # each blocker once, where it first appears: own ones first
        unique.setdefault(blocker.id, blocker)
    shown = list(unique.values())
    return BlockedItem.model_validate(row | {"blocked_by": shown, "blocked_reason": reason})


@reads
async def blocked_work(
    app: App,
    conn: AsyncConnection,
    *,
    parent_id: str | None = None,
    label: str | None = None,
    limit: int = 20,
) -> BlockedWork:
    scope = await _scope(conn, None, parent_id, label)
    found = await store.blocked(conn, scope, limit=limit)
    by_waiter: dict[str, list[Blocker]] = {}
    for blocker in await store.blockers_of(conn, [row["path"] for row in found]):
        by_waiter.setdefault(blocker.waiter_id, []).append(blocker)
    return BlockedWork(items=[_blocked_item(row, by_waiter) for row in found])
