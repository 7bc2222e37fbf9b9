"""SQL for enhancements and their dependencies. Rows come back as ``Enhancement`` models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.enhancements import Enhancement
from worktrack.store import tap
from worktrack.tables import enhancement_dependencies, enhancements

_e = enhancements.c
_dep = enhancement_dependencies.c
# Quarterless enhancements come last: the order is (priority, target_quarter, id).
_ORDER = (_e.priority, _e.target_quarter.asc().nulls_last(), _e.id)
Position = tuple[int, str | None, str]


async def fetch(conn: AsyncConnection, enhancement_id: str) -> Enhancement | None:
    rows = (await conn.execute(select(enhancements).where(_e.id == enhancement_id))).all()
    found = await _with_dependencies(conn, rows)
    return found[0] if found else None


async def fetch_many(conn: AsyncConnection, ids: Sequence[str]) -> list[Enhancement]:
    rows = (await conn.execute(select(enhancements).where(_e.id.in_(ids)))).all() if ids else []
    return await _with_dependencies(conn, rows)


async def insert_one(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(enhancements).values(**values))
    tap.wrote(enhancements, values["id"])


async def update_if_version(
    conn: AsyncConnection, enhancement_id: str, version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` and bump the version, only if the stored version is ``version``."""
    statement = (
        update(enhancements)
        .where(_e.id == enhancement_id, _e.version == version)
        .values(**values, version=_e.version + 1)
        .returning(_e.version)
    )
    changed = (await conn.execute(statement)).first() is not None
    if changed:
        tap.wrote(enhancements, enhancement_id)
    return changed


async def set_dependencies(
    conn: AsyncConnection, enhancement_id: str, depends_on_ids: Sequence[str]
) -> None:
    """Replace what the enhancement depends on."""
    await conn.execute(
        delete(enhancement_dependencies).where(_dep.enhancement_id == enhancement_id)
    )
    if depends_on_ids:
        rows = [{"enhancement_id": enhancement_id, "depends_on_id": d} for d in depends_on_ids]
        await conn.execute(insert(enhancement_dependencies), rows)


async def dependent_among(
    conn: AsyncConnection, starts: Sequence[str], enhancement_id: str
) -> str | None:
    """One of ``starts`` that already depends on ``enhancement_id``, directly or transitively."""
    # Seeded from the table so both halves share the id column's type and collation.
    seed = select(_e.id.label("node"), _e.id.label("start")).where(_e.id.in_(starts))
    reach = seed.cte("reach", recursive=True)
    reach = reach.union(
        select(_dep.depends_on_id, reach.c.start).join(reach, _dep.enhancement_id == reach.c.node)
    )
    query = select(reach.c.start).where(reach.c.node == enhancement_id).order_by(reach.c.start)
    return await conn.scalar(query.limit(1))


async def lock_graph(conn: AsyncConnection) -> None:
    """Serialize changes to the dependency graph for the rest of this transaction.

    Two updates adding a->b and b->a each see no cycle on their own. SQLite writers are
    already serialized."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(_GRAPH_LOCK)))


_GRAPH_LOCK = 0x7774656E68  # "wtenh", apart from the work-item graph's key


@dataclass(frozen=True)
class ListFilter:
    priority: int | None = None
    status: str | None = None
    target_quarter: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.priority is not None:
            found.append(_e.priority == self.priority)
        if self.status is not None:
            found.append(_e.status == self.status)
        if self.target_quarter is not None:
            found.append(_e.target_quarter == self.target_quarter)
        return found


def _after(position: Position) -> ColumnElement[bool]:
    """Rows after ``position`` in list order, where a missing quarter sorts last."""
    priority, quarter, last_id = position
    if quarter is None:
        same_priority_later = and_(_e.target_quarter.is_(None), _e.id > last_id)
    else:
        same_priority_later = or_(
            _e.target_quarter > quarter,
            _e.target_quarter.is_(None),
            and_(_e.target_quarter == quarter, _e.id > last_id),
        )
    return or_(_e.priority > priority, and_(_e.priority == priority, same_priority_later))


async def list_page(
    conn: AsyncConnection, where: ListFilter, limit: int, after: Position | None
) -> tuple[list[Enhancement], int]:
    """One page by priority, then target quarter, then id, plus the count of all matches."""
    conditions = where.conditions()
    total = await conn.scalar(select(func.count()).select_from(enhancements).where(*conditions))
    query = select(enhancements).where(*conditions).order_by(*_ORDER).limit(limit)
    if after is not None:
        query = query.where(_after(after))
    rows = (await conn.execute(query)).all()
    return await _with_dependencies(conn, rows), int(total or 0)


async def _with_dependencies(conn: AsyncConnection, rows: Sequence[Row[Any]]) -> list[Enhancement]:
    """The enhancements of ``rows`` with their sorted ``depends_on_ids``, in one query."""
    ids = [row.id for row in rows]
    needs: dict[str, list[str]] = {}
    if ids:
        query = (
            select(_dep.enhancement_id, _dep.depends_on_id)
            .where(_dep.enhancement_id.in_(ids))
            .order_by(_dep.enhancement_id, _dep.depends_on_id)
        )
        for row in await conn.execute(query):
            needs.setdefault(row.enhancement_id, []).append(row.depends_on_id)
    for found in rows:
        tap.row(enhancements, found._mapping)
        links = [{"enhancement_id": found.id, "depends_on_id": d} for d in needs.get(found.id, [])]
        tap.link_set(enhancement_dependencies, ("enhancement_id",), found.id, links)
    return [
        Enhancement.model_validate({**row._mapping, "depends_on_ids": needs.get(row.id, [])})
        for row in rows
    ]
