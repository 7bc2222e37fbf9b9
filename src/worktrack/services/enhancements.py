"""Enhancements: planned improvements, ordered by priority and quarter, with dependencies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import NotFoundError, ValidationError
from worktrack.models.enhancements import Enhancement, EnhancementPage
from worktrack.services.app import App, reads, writes
from worktrack.services.common import created, decode_cursor, diff, encode_cursor
from worktrack.services.common import version_conflict as _conflict
from worktrack.store import enhancements as store
from worktrack.store import history
from worktrack.store.history import change_row
from worktrack.store.sql import resolve_all, resolve_id
from worktrack.tables import enhancements as enhancements_table

ENTITY = "enhancement"
TRACKED = (
    "title",
    "description",
    "priority",
    "status",
    "target_quarter",
    "requires_constitutional_principles",
    "depends_on_ids",
)


async def load(conn: AsyncConnection, ref: str) -> Enhancement:
    enhancement_id = await resolve_id(conn, ref, ENTITY, enhancements_table)
    found = await store.fetch(conn, enhancement_id)
    if found is None:
        raise NotFoundError(ENTITY, id=enhancement_id)
    return found


async def history_id(conn: AsyncConnection, ref: str) -> str:
    """The enhancement id ``get_history(entity="enhancement", id=ref)`` reads."""
    return (await load(conn, ref)).id


async def _needs(conn: AsyncConnection, refs: Sequence[str], own_id: str | None) -> list[str]:
    """The sorted ids ``refs`` name, checked: existing, once each, and closing no cycle."""
    field = "depends_on_ids"
    ids = sorted(await resolve_all(conn, refs, kind=ENTITY, table=enhancements_table, field=field))
    if own_id is None or not ids:
        return ids  # nothing depends on a new enhancement yet, so it cannot close a cycle
    if own_id in ids:
        raise ValidationError(field, "an enhancement cannot depend on itself")
    await store.lock_graph(conn)
    loop = await store.dependent_among(conn, ids, own_id)
    if loop is not None:
        raise ValidationError(field, f"would close a cycle: {loop} already depends on {own_id}")
    return ids


@writes("create_enhancement", Enhancement, entity=ENTITY, keep=("id",))
async def create_enhancement(
    app: App,
    conn: AsyncConnection,
    *,
    title: str,
    description: str | None = None,
    priority: int = 3,
    status: str = "planned",
    target_quarter: str | None = None,
    requires_constitutional_principles: Sequence[str] | None = None,
    depends_on_ids: Sequence[str] | None = None,
    created_by: str | None = None,
    request_id: str | None = None,
    id: str | None = None,
) -> Enhancement:
    fields = {
        "title": title,
        "description": description or None,
        "priority": priority,
        "status": status,
        "target_quarter": target_quarter or None,
        "requires_constitutional_principles": list(requires_constitutional_principles or []),
    }
    needs = await _needs(conn, depends_on_ids or [], None)
    now, actor, enhancement_id = app.clock(), app.who(created_by), id or str(uuid4())
    await store.insert_one(
        conn,
        {
            **fields,
            "id": enhancement_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": actor,
            "updated_by": actor,
        },
    )
    await store.set_dependencies(conn, enhancement_id, needs)
    changes = created(fields | {"depends_on_ids": needs})
    await history.append(conn, [change_row(ENTITY, enhancement_id, 1, now, actor, changes)])
    return await load(conn, enhancement_id)


def _edits(given: dict[str, Any]) -> dict[str, Any]:
    """The new values of the fields the caller gave ("" clears description and quarter)."""
    edits = {name: value for name, value in given.items() if value is not None}
    for name in ("description", "target_quarter"):
        if name in edits and not edits[name]:
            edits[name] = None
    if "requires_constitutional_principles" in edits:
        edits["requires_constitutional_principles"] = list(
            edits["requires_constitutional_principles"]
        )
    return edits


@writes("update_enhancement", Enhancement, entity=ENTITY, keep=("id",))
async def update_enhancement(
    app: App,
    conn: AsyncConnection,
    *,
    id: str,
    version: int,
    title: str | None = None,
    description: str | None = None,
    priority: int | None = None,
    status: str | None = None,
    target_quarter: str | None = None,
    requires_constitutional_principles: Sequence[str] | None = None,
    depends_on_ids: Sequence[str] | None = None,
    updated_by: str | None = None,
    request_id: str | None = None,
) -> Enhancement:
    after = _edits(
        {
            "title": title,
            "description": description,
            "priority": priority,
            "status": status,
            "target_quarter": target_quarter,
            "requires_constitutional_principles": requires_constitutional_principles,
        }
    )
    if not after and depends_on_ids is None:
        raise ValidationError("arguments", "give at least one field to change")
    current = await load(conn, id)
    if current.version != version:
        raise _conflict(ENTITY, version, current)
    if depends_on_ids is not None:
        after["depends_on_ids"] = await _needs(conn, depends_on_ids, current.id)
    changes = diff({name: getattr(current, name) for name in TRACKED}, after)
    if not changes:
        return current
    now, actor = app.clock(), app.who(updated_by)
    values = {n: after[n] for n in changes if n != "depends_on_ids"}
    if not await store.update_if_version(
        conn, current.id, version, values | {"updated_at": now, "updated_by": actor}
    ):
        raise _conflict(ENTITY, version, await load(conn, current.id))
    if "depends_on_ids" in changes:
        await store.set_dependencies(conn, current.id, after["depends_on_ids"])
    await history.append(conn, [change_row(ENTITY, current.id, version + 1, now, actor, changes)])
    return await load(conn, current.id)


@reads
async def list_enhancements(
    app: App,
    conn: AsyncConnection,
    *,
    priority: int | None = None,
    status: str | None = None,
    target_quarter: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> EnhancementPage:
    where = store.ListFilter(priority, status, target_quarter)
    scope = asdict(where)
    after = _position(decode_cursor(cursor, scope)) if cursor else None
    rows, total = await store.list_page(conn, where, limit + 1, after)
    page = rows[:limit]
    last = page[-1] if len(rows) > limit else None
    return EnhancementPage(
        items=list(page),
        total_count=total,
        next_cursor=(
            encode_cursor([last.priority, last.target_quarter, last.id], scope) if last else None
        ),
    )


def _position(raw: list[Any]) -> store.Position:
    match raw:
        case [int() as priority, str() | None as quarter, str() as last_id]:
            return priority, quarter, last_id
    raise ValidationError("cursor", "not a cursor this server issued")
