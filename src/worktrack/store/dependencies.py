"""SQL for dependencies between work items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.work_items import Dependency
from worktrack.store import tap
from worktrack.store.sql import insert_if_absent
from worktrack.tables import dependencies, work_items

_d = dependencies.c


async def add(
    conn: AsyncConnection, source_id: str, target_id: str, kind: str, now: datetime, actor: str
) -> Dependency:
    values = {
        "source_id": source_id,
        "target_id": target_id,
        "dependency_type": kind,
        "created_at": now,
        "created_by": actor,
    }
    if await insert_if_absent(conn, dependencies, values):
        tap.wrote(dependencies, tap.row_key(dependencies, values))
    found = await of_pair(conn, source_id, target_id, kind)
    assert found is not None
    return found


async def of_pair(
    conn: AsyncConnection, source_id: str, target_id: str, kind: str
) -> Dependency | None:
    query = select(dependencies).where(
        _d.source_id == source_id, _d.target_id == target_id, _d.dependency_type == kind
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    values = row._asdict()
    tap.row(dependencies, values)
    return Dependency.model_validate(values)


async def remove(conn: AsyncConnection, source_id: str, target_id: str, kind: str) -> bool:
    statement = delete(dependencies).where(
        _d.source_id == source_id, _d.target_id == target_id, _d.dependency_type == kind
    )
    removed = (await conn.execute(statement)).rowcount == 1
    if removed:
        key = {"source_id": source_id, "target_id": target_id, "dependency_type": kind}
        tap.deleted(dependencies, key)
    return removed


# Built once: query_work_item runs it on every call.
_OF_ITEM = (
    select(dependencies)
    .where((_d.source_id == bindparam("item_id")) | (_d.target_id == bindparam("item_id")))
    .order_by(_d.created_at, _d.source_id, _d.target_id)
)


async def of_item(conn: AsyncConnection, item_id: str) -> list[Dependency]:
    rows = [row._asdict() for row in await conn.execute(_OF_ITEM, {"item_id": item_id})]
    tap.link_set(dependencies, ("source_id", "target_id"), item_id, rows)
    return [Dependency.model_validate(row) for row in rows]


async def must_precede(conn: AsyncConnection, first: str, then: str) -> bool:
    """True when ``first`` must already finish before ``then`` (directly or transitively).

    ``a blocks b`` and ``b depends_on a`` both mean a comes before b."""
    edges = union_all(
        select(_d.source_id.label("before"), _d.target_id.label("after")).where(
            _d.dependency_type == "blocks"
        ),
        select(_d.target_id.label("before"), _d.source_id.label("after")).where(
            _d.dependency_type == "depends_on"
        ),
    ).cte("edges")
    # Seeded from the table so both halves share the id column's type and collation.
    seed = select(work_items.c.id.label("node")).where(work_items.c.id == first)
    reach = seed.cte("reach", recursive=True)
    reach = reach.union(select(edges.c.after).join(reach, edges.c.before == reach.c.node))
    found = await conn.scalar(select(reach.c.node).where(reach.c.node == then).limit(1))
    return found is not None


async def lock_graph(conn: AsyncConnection) -> None:
    """Serialize changes to the dependency graph for the rest of this transaction.

    Row locks on the two endpoints are not enough: two links between disjoint pairs can
    close one cycle together. SQLite writers are already serialized."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(_GRAPH_LOCK)))


_GRAPH_LOCK = 0x77747261636B  # "wtrack"
