"""SQL of the readiness rule (ADR 0014): which items are ready, which are blocked and by what.

Each answer is one statement over the whole set, whatever the number of items: the
ancestors of a candidate are its parent chain joined on the primary key (depth is at
most five, a CHECK constraint), and the items held up by an open blocker are one
derived set (``stuck``) every candidate and ancestor is looked up in.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Select,
    String,
    Subquery,
    and_,
    any_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    union,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import KeyedColumnElement

from worktrack.hierarchy import MAX_DEPTH, ancestor_ids, prefix_bounds, subtree_prefix
from worktrack.models.work_items import WorkItem
from worktrack.store import tap
from worktrack.store.work_items import RECORD_COLUMNS, claimable, has_label, record
from worktrack.tables import OPEN_STATUSES, dependencies, work_items

# Items that are done through other items, and the statuses of an ancestor that hold its
# whole subtree back.
TASK_TYPES = ("task", "research")
HOLDING_STATUSES = ("blocked", "deferred", "cancelled")
_RECORD_NAMES = [column.name for column in RECORD_COLUMNS]


def _sql(*constants: str | int) -> Any:
    """Constants of the rule written into the SQL, not bound: with only a few parameters
    left, Postgres can keep one generic plan for the prepared statement instead of planning
    each call (custom plans, 2-6 ms here). Only the code's own strings come here; numbers
    (a validated ``limit``) go through ``int``."""
    found: list[Any] = [
        literal_column(f"'{v}'" if isinstance(v, str) else str(int(v))) for v in constants
    ]
    return found[0] if len(constants) == 1 else found


def is_open(table: FromClause) -> ColumnElement[bool]:
    """Open: not completed or cancelled, and not deleted (a deleted blocker blocks nothing)."""
    return and_(table.c.status.in_(_sql(*OPEN_STATUSES)), table.c.deleted_at.is_(None))


def _edges() -> Subquery:
    """Every dependency as (waiter, blocker): ``a depends_on b`` and ``b blocks a`` both
    make ``a`` wait for ``b``."""
    d = dependencies.c
    return union_all(
        select(d.source_id.label("waiter_id"), d.target_id.label("blocker_id")).where(
            d.dependency_type == _sql("depends_on")
        ),
        select(d.target_id.label("waiter_id"), d.source_id.label("blocker_id")).where(
            d.dependency_type == _sql("blocks")
        ),
    ).subquery("edges")


def _stuck(postgres: bool) -> CTE:
    """The ids of items with an unmet dependency: a blocker that is still open.

    Driven from the open items, which are few (a partial index holds their ids), into the
    links' indexes, one arm per direction: the links of finished work are never read. On
    Postgres each arm is a LATERAL subquery with an OFFSET (never flattened), so it stays a
    probe per open item: as a join the planner scans every link once most work is finished
    (10 ms against 2 ms at 100,000 items), and ``= ANY(<array>)`` is a linear search per
    link on a small table. SQLite plans the plain semi-join that way itself."""
    d, blocker = dependencies.c, work_items.alias("blocker")
    arms = []
    for kind, waiter, by in (
        ("depends_on", d.source_id, d.target_id),
        ("blocks", d.target_id, d.source_id),
    ):
        on_it = [d.dependency_type == _sql(kind), by == blocker.c.id]
        if postgres:
            links = (
                select(waiter.label("waiter_id"))
                .where(*on_it)
                .correlate(blocker)
                .offset(_sql(0))
                .lateral(f"{kind}_links")
            )
            arms.append(
                select(links.c.waiter_id)
                .select_from(blocker)
                .join(links, true())
                .where(is_open(blocker))
            )
        else:
            open_ids = select(blocker.c.id).where(is_open(blocker))
            arms.append(
                select(waiter.label("waiter_id")).where(
                    d.dependency_type == _sql(kind), by.in_(open_ids)
                )
            )
    return union_all(*arms).cte("stuck")


@dataclass(frozen=True)
class Chain:
    """A candidate joined to its parent, grandparent ... up to the root (left joins)."""

    item: FromClause
    ancestors: tuple[FromClause, ...]
    joined: FromClause


def _chain() -> Chain:
    item = work_items.alias("w")
    ancestors = tuple(work_items.alias(f"p{level}") for level in range(1, MAX_DEPTH + 1))
    joined: FromClause = item
    below = item
    for parent in ancestors:
        joined = joined.outerjoin(parent, parent.c.id == below.c.parent_id)
        below = parent
    return Chain(item, ancestors, joined)


def _not_in(column: KeyedColumnElement[Any], ids: CTE) -> ColumnElement[bool]:
    # A missing ancestor is NULL, and NULL NOT IN (...) is not true: compare '' instead.
    return func.coalesce(column, _sql("")).not_in(select(ids.c.waiter_id))


def _scope(item: FromClause, under: bool, label: bool) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if under:
        found += [item.c.path >= bindparam("low"), item.c.path < bindparam("high")]
    if label:
        found.append(has_label(item.c.labels, bindparam("label", type_=String)))
    return found


def _unblocks(item: FromClause) -> Any:
    """How many open items wait on ``item`` directly, each counted once. The item's id is
    inside each arm, so both databases probe the links' indexes with it (SQLite would
    otherwise build every link's pair before filtering)."""
    d, waiter = dependencies.c, work_items.alias("waiter")
    arms = [
        select(waits.label("waiter_id"))
        .join(waiter, waiter.c.id == waits)
        .where(d.dependency_type == _sql(kind), by == item.c.id, is_open(waiter))
        .correlate(item)
        for kind, waits, by in (
            ("depends_on", d.source_id, d.target_id),
            ("blocks", d.target_id, d.source_id),
        )
    ]
    waiting = union(*arms).subquery("waiting")  # UNION: a waiter linked twice counts once
    return select(func.count()).select_from(waiting).scalar_subquery()


def _ready_conditions(chain: Chain, stuck: CTE, by_type: bool) -> list[ColumnElement[bool]]:
    w, child = chain.item, work_items.alias("child")
    kinds = (
        w.c.item_type == bindparam("item_type") if by_type else w.c.item_type.in_(_sql(*TASK_TYPES))
    )
    claim_free = claimable(bindparam("actor"), bindparam("now"), w)
    open_child = exists().where(child.c.parent_id == w.c.id, is_open(child))
    found = [w.c.status == _sql("active"), w.c.deleted_at.is_(None), kinds, claim_free, ~open_child]
    for parent in chain.ancestors:
        found.append(or_(parent.c.id.is_(None), parent.c.status.not_in(_sql(*HOLDING_STATUSES))))
    found += [_not_in(level.c.id, stuck) for level in (w, *chain.ancestors)]
    return found


@functools.cache
def _ready(
    postgres: bool, by_type: bool, under: bool, label: bool, one: bool, limit: int = 0
) -> Select[Any]:
    """The ready statement for one shape of filters and one ``limit``, built once (building
    costs more than running it). ``one`` keeps only the item ``id``: the claim's re-check.
    The limit is written into the SQL: Postgres then plans for it, and no statement is
    rendered again per call to put it in."""
    chain, stuck = _chain(), _stuck(postgres)
    w = chain.item
    conditions = _ready_conditions(chain, stuck, by_type) + _scope(w, under, label)
    if one:
        return (
            select(w.c.id)
            .select_from(chain.joined)
            .where(w.c.id == bindparam("item_id"), *conditions)
        )
    unblocks = _unblocks(w).label("unblocks")
    columns = [w.c[name] for name in _RECORD_NAMES]
    return (
        select(*columns, unblocks)
        .select_from(chain.joined)
        .where(*conditions)
        .order_by(w.c.priority, unblocks.desc(), w.c.created_at, w.c.id)
        .limit(_sql(limit))
    )


@dataclass(frozen=True)
class Scope:
    """The optional filters of ready_work and blocked_work."""

    item_type: str | None = None
    under_path: str | None = None
    label: str | None = None

    def shape(self) -> tuple[bool, bool, bool]:
        """Which filters are given: the statement's shape (values are bind parameters)."""
        return bool(self.item_type), bool(self.under_path), bool(self.label)

    def arguments(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.item_type:
            found["item_type"] = self.item_type
        if self.under_path:
            found["low"], found["high"] = prefix_bounds(subtree_prefix(self.under_path))
        if self.label:
            found["label"] = self.label
        return found


def _pg(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _rows(result: Any) -> list[dict[str, Any]]:
    found = [row._asdict() for row in result]
    if tap.active():
        for values in found:
            tap.row(work_items, {name: values[name] for name in _RECORD_NAMES})
    return found


async def ready(
    conn: AsyncConnection, scope: Scope, *, actor: str, now: datetime, limit: int
) -> list[dict[str, Any]]:
    """The ready items, first first: each whole row plus ``unblocks``."""
    query = _ready(_pg(conn), *scope.shape(), one=False, limit=limit)
    arguments = scope.arguments() | {"actor": actor, "now": now}
    return _rows(await conn.execute(query, arguments))


@functools.cache
def _claim(postgres: bool, by_type: bool, under: bool, label: bool) -> Any:
    w = work_items.c
    return (
        update(work_items)
        .where(
            w.id == bindparam("item_id"),
            w.status == _sql("active"),
            w.deleted_at.is_(None),
            claimable(bindparam("actor"), bindparam("now")),
            w.id.in_(_ready(postgres, by_type, under, label, one=True)),
        )
        .values(claimed_by=bindparam("actor"), claim_expires_at=bindparam("until"))
        .returning(*RECORD_COLUMNS)
    )


async def claim_if_ready(
    conn: AsyncConnection, scope: Scope, item_id: str, *, actor: str, until: datetime, now: datetime
) -> WorkItem | None:
    """Claim ``item_id`` if it is still ready for ``actor``: one conditional UPDATE, so of
    two claimers racing for it exactly one gets it (the other's re-check sees the claim)."""
    statement = _claim(_pg(conn), *scope.shape())
    arguments = scope.arguments() | {"item_id": item_id, "actor": actor, "now": now}
    row = (await conn.execute(statement, arguments | {"until": until})).first()
    return None if row is None else record(row, written=True)


def _held(postgres: bool, under: bool, label: bool) -> CTE:
    """The open items held up, with what orders them: status ``blocked``, or an unmet
    dependency of the item itself or of an ancestor. The items at or below a stuck one are
    a range scan of the path index (its path, then its path and a slash): one per stuck
    item, which are few, instead of walking up from every open item."""
    stuck, x = _stuck(postgres), work_items.alias("x")
    source = work_items.alias("stuck_item")
    in_subtree = and_(
        x.c.path >= source.c.path,
        x.c.path < source.c.path + _sql("0"),  # "0" follows "/": the subtree's upper bound
        or_(
            x.c.id == source.c.id,
            func.substr(x.c.path, func.length(source.c.path) + _sql(1), _sql(1)) == _sql("/"),
        ),
    )
    if postgres:
        # Postgres cannot estimate a range bounded by another row's value and would
        # compare every open item with every stuck one; a LATERAL subquery with an OFFSET
        # is not flattened (nor are the filters pushed into it, where the status index
        # would join the range), so it runs as one index range scan per stuck item.
        needed = [x.c[k] for k in ("id", "priority", "created_at", "status", "deleted_at")]
        needed += [x.c.path, x.c.labels]  # for the scope
        subtree: Any = (
            select(*needed).where(in_subtree).correlate(source).offset(_sql(0)).lateral("subtree")
        )
        by_dependency = select(subtree).select_from(source).join(subtree, true())
        still_open = is_open(subtree)
    else:
        subtree = x
        by_dependency = select(x).select_from(source).join(x, in_subtree)
        # Written so no index serves it: SQLite would otherwise walk every open item per
        # stuck item (the status index) instead of the stuck item's path range.
        still_open = and_(
            (x.c.status + _sql("")).in_(_sql(*OPEN_STATUSES)), x.c.deleted_at.is_(None)
        )
    by_dependency = by_dependency.where(
        source.c.id.in_(select(stuck.c.waiter_id)), still_open, *_scope(subtree, under, label)
    )
    by_status = select(x).where(
        x.c.status == _sql("blocked"), x.c.deleted_at.is_(None), *_scope(x, under, label)
    )
    keys = ("id", "priority", "created_at")
    return union(
        by_dependency.with_only_columns(*(subtree.c[k] for k in keys)),
        by_status.with_only_columns(*(x.c[k] for k in keys)),
    ).cte("held")


@functools.cache
def _blocked(postgres: bool, under: bool, label: bool, limit: int) -> Select[Any]:
    """The first held items by priority, age and id, found on the held set's own columns;
    only those are read whole. One statement per limit, as for ``_ready``."""
    held, w = _held(postgres, under, label), work_items.alias("w")
    order = (held.c.priority, held.c.created_at, held.c.id)
    first = select(held.c.id).order_by(*order).limit(_sql(limit))
    return (
        select(*(w.c[name] for name in _RECORD_NAMES))
        .where(w.c.id.in_(first))
        .order_by(w.c.priority, w.c.created_at, w.c.id)
    )


async def blocked(conn: AsyncConnection, scope: Scope, *, limit: int) -> list[dict[str, Any]]:
    """Open items held up by an unmet dependency (their own or an ancestor's) or by their
    ``blocked`` status, most urgent first."""
    _, under, label = scope.shape()
    query = _blocked(_pg(conn), under, label, limit)
    return _rows(await conn.execute(query, scope.arguments()))


@dataclass(frozen=True)
class Blocker:
    waiter_id: str
    id: str
    title: str
    status: str


def _blockers(postgres: bool) -> Select[Any]:
    """The open blockers of the items ``ids``. Postgres takes the ids as one array: one
    statement whatever their number, where an expanded IN list is rendered again per call
    and is a new statement to prepare and plan for each length."""
    edges, blocker = _edges(), work_items.alias("blocker")
    waiters = (
        edges.c.waiter_id == any_(bindparam("ids", type_=ARRAY(String)))
        if postgres
        else edges.c.waiter_id.in_(bindparam("ids", expanding=True))
    )
    return (
        select(
            edges.c.waiter_id,
            blocker.c.id,
            blocker.c.title,
            blocker.c.status,
        )
        .join(blocker, blocker.c.id == edges.c.blocker_id)
        .where(waiters, is_open(blocker))
        .order_by(blocker.c.priority, blocker.c.created_at, blocker.c.id)
    )


_BLOCKERS = {postgres: _blockers(postgres) for postgres in (False, True)}


async def blockers_of(conn: AsyncConnection, paths: Sequence[str]) -> list[Blocker]:
    """The open blockers of the items at ``paths`` and of all their ancestors: one
    statement for a whole page (the ancestors' ids are read off the paths)."""
    ids = sorted({i for path in paths for i in [*ancestor_ids(path), path.rsplit("/", 1)[-1]]})
    if not ids:
        return []
    rows = await conn.execute(_BLOCKERS[_pg(conn)], {"ids": ids})
    return [Blocker(row.waiter_id, row.id, row.title, row.status) for row in rows]
