"""Dependencies between work items (what they mean for readiness: services/readiness.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import ValidationError
from worktrack.models.work_items import Dependency, Removed
from worktrack.services.app import App, writes
from worktrack.services.work_items import load
from worktrack.store import dependencies as store


@writes("add_dependency", Dependency, entity="dependency", keep=("source_id", "target_id"))
async def add_dependency(
    app: App,
    conn: AsyncConnection,
    *,
    source_id: str,
    target_id: str,
    dependency_type: str,
    created_by: str | None = None,
    request_id: str | None = None,
) -> Dependency:
    await store.lock_graph(conn)
    source, target = await load(conn, source_id), await load(conn, target_id)
    if source.id == target.id:
        raise ValidationError("target_id", "an item cannot depend on itself")
    for field, item in (("source_id", source), ("target_id", target)):
        if item.deleted_at is not None:
            raise ValidationError(field, f"work item {item.id} is deleted")
    first, then = (source, target) if dependency_type == "blocks" else (target, source)
    if await store.must_precede(conn, then.id, first.id):
        raise ValidationError(
            "dependency_type",
            f"would close a cycle: {then.id} already has to finish before {first.id}",
        )
    return await store.add(
        conn, source.id, target.id, dependency_type, app.clock(), app.who(created_by)
    )


@writes("remove_dependency", Removed, entity="dependency")
async def remove_dependency(
    app: App,
    conn: AsyncConnection,
    *,
    source_id: str,
    target_id: str,
    dependency_type: str,
    request_id: str | None = None,
) -> Removed:
    source, target = await load(conn, source_id), await load(conn, target_id)
    return Removed(removed=await store.remove(conn, source.id, target.id, dependency_type))
