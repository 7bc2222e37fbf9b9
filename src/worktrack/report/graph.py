"""The dependency graph of open work: who waits for whom, read set-based.

An edge is an unmet dependency: both ends live (not deleted, not archived) and open
(status not completed/cancelled), drawn from the item that must finish first to the item
that waits (``a blocks b`` and ``b depends_on a`` are both ``a --> b``). At most
``MAX_NODES`` items are drawn: the first edges in a stable order (the waiting item's priority,
then age) until that many items are in; the rest are counted, never dropped silently.

Three statements whatever the size: the first edges (bounded), the drawn items' rows, and
how many items take part in all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Subquery,
    bindparam,
    func,
    select,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import tables
from worktrack.store import tap
from worktrack.tables import CLOSED_STATUSES, dependencies, work_items

MAX_NODES = 100
# Edges read to find MAX_NODES items: each new edge adds at most two, and a dense graph
# adds fewer; bounded so that 100,000 items with dependencies never read them all.
MAX_EDGES_READ = 2_000

_d = dependencies.c
_before = work_items.alias("before_item")
_after = work_items.alias("after_item")


def _open(item: FromClause) -> ColumnElement[bool]:
    return item.c.deleted_at.is_(None) & item.c.status.not_in(CLOSED_STATUSES)


def _unmet() -> Subquery:
    """(before, after, waiting item's status, its priority) for every unmet dependency."""
    pairs = union_all(
        select(_d.source_id.label("before"), _d.target_id.label("after")).where(
            _d.dependency_type == "blocks"
        ),
        select(_d.target_id.label("before"), _d.source_id.label("after")).where(
            _d.dependency_type == "depends_on"
        ),
    ).subquery("pairs")
    return (
        select(
            pairs.c.before,
            pairs.c.after,
            _after.c.priority.label("priority"),
            _after.c.created_at.label("created_at"),
        )
        .join(_before, _before.c.id == pairs.c.before)
        .join(_after, _after.c.id == pairs.c.after)
        .where(_open(_before), _open(_after))
    ).subquery("unmet")


_UNMET = _unmet()
_EDGES = (
    select(_UNMET.c.before, _UNMET.c.after)
    .order_by(_UNMET.c.priority, _UNMET.c.created_at, _UNMET.c.after, _UNMET.c.before)
    .limit(MAX_EDGES_READ)
)
_NODES = union(
    select(_UNMET.c.before.label("id")),
    select(_UNMET.c.after.label("id")),
).subquery("nodes")
_COUNT = select(func.count()).select_from(_NODES)
_ITEMS = select(
    work_items.c.id,
    work_items.c.version,
    work_items.c.title,
    work_items.c.status,
    work_items.c.priority,
).where(work_items.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    version: int
    title: str
    status: str
    priority: int


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: tuple[Node, ...]  # in the order they were first reached
    edges: tuple[tuple[str, str], ...]  # (must finish first, waits), both among ``nodes``
    left_out: int  # items that take part in an unmet dependency but are not drawn


EMPTY = Graph((), (), 0)


async def load(conn: AsyncConnection, max_nodes: int = MAX_NODES) -> Graph:
    order: dict[str, None] = {}
    edges: dict[tuple[str, str], None] = {}
    for before, after in await conn.execute(_EDGES):
        if (before, after) in edges:
            continue  # "a blocks b" and "b depends_on a" both: one edge
        new = [n for n in (before, after) if n not in order]
        if len(order) + len(new) > max_nodes:
            continue  # an edge to an item not drawn: its ends are counted as left out
        order.update(dict.fromkeys(new))
        edges[(before, after)] = None
    if not order:
        return EMPTY
    rows = {row.id: row for row in await conn.execute(_ITEMS, {"ids": list(order)})}
    total = int(await conn.scalar(_COUNT) or 0)
    nodes = tuple(
        Node(rows[i].id, rows[i].version, rows[i].title, rows[i].status, rows[i].priority)
        for i in order
        if i in rows
    )
    for node in nodes:
        tap.touched(tables.work_items, node.id)
    return Graph(nodes, tuple(edges), max(0, total - len(nodes)))
