"""Dependencies between work items, and the ready-work query they feed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import ValidationError
from worktrack.models.work_items import Dependency, ReadyWork, Removed
from worktrack.services.app import App, reads, writes
from worktrack.services.work_items import load, summary
from worktrack.store import dependencies as store
from worktrack.store import work_items as item_store


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


@reads
async def ready_work(
    app: App,
    conn: AsyncConnection,
    *,
    item_type: str | None = None,
    parent_id: str | None = None,
    limit: int = 10,
) -> ReadyWork:
    under = (await load(conn, parent_id)).path if parent_id else None
    found = await item_store.ready(
        conn, actor=app.actor, now=app.clock(), limit=limit, item_type=item_type, under_path=under
    )
    return ReadyWork(items=[summary(item) for item in found])
