"""SQL for work items. Rows come back as ``WorkItem`` models (envelope unset)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    FunctionElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from worktrack.hierarchy import prefix_bounds, subtree_prefix
from worktrack.models.work_items import WorkItem, WorkItemSummary
from worktrack.store import tap
from worktrack.tables import CLOSED_STATUSES, work_items

RECORD_COLUMNS = [c for c in work_items.c if c.name != "search_text"]
SUMMARY_COLUMNS = [work_items.c[name] for name in WorkItemSummary.model_fields]
_w = work_items.c


def record(row: Any, *, written: bool = False) -> WorkItem:
    """A stored row as a ``WorkItem`` (the envelope unset), seen by the current tap."""
    # A plain dict: validating a RowMapping makes pydantic probe each absent field, and
    # every probe raises (and catches) a KeyError inside SQLAlchemy, 2-3x the whole cost.
    values = row._asdict()
    tap.row(work_items, values, written=written)
    return WorkItem.model_validate(values)


def _select() -> Select[Any]:
    return select(*RECORD_COLUMNS)


def _under(path: str) -> ColumnElement[bool]:
    low, high = prefix_bounds(subtree_prefix(path))
    return and_(_w.path >= low, _w.path < high)


# The hot statements are built once, with bind parameters: building one and computing its
# cache key costs more than running it (0.06-0.8 ms here, against a 0.1 ms lookup).
_BY_ID = _select().where(_w.id == bindparam("id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_INSERT = insert(work_items).returning(*RECORD_COLUMNS)


async def fetch(conn: AsyncConnection, item_id: str, *, lock: bool = False) -> WorkItem | None:
    query = _BY_ID_FOR_UPDATE if lock else _BY_ID
    row = (await conn.execute(query, {"id": item_id})).first()
    return None if row is None else record(row)


async def fetch_many(conn: AsyncConnection, ids: Iterable[str]) -> list[WorkItem]:
    wanted = list(ids)
    if not wanted:
        return []
    rows = await conn.execute(_select().where(_w.id.in_(wanted)))
    return [record(row) for row in rows]


async def insert_one(conn: AsyncConnection, values: dict[str, Any]) -> WorkItem:
    return record((await conn.execute(_INSERT, values)).one(), written=True)


async def insert_many(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new items in one statement (parents before their children in ``rows``)."""
    if rows:
        await conn.execute(insert(work_items), list(rows))


async def update_if_version(
    conn: AsyncConnection, item_id: str, version: int, values: dict[str, Any]
) -> WorkItem | None:
    """Apply ``values`` and bump the version, only if the stored version is ``version``.

    The check is in the UPDATE itself, so of two concurrent updates with the same version
    exactly one matches a row."""
    statement = (
        update(work_items)
        .where(_w.id == item_id, _w.version == version)
        .values(**values, version=_w.version + 1)
        .returning(*RECORD_COLUMNS)
    )
    row = (await conn.execute(statement)).first()
    return None if row is None else record(row, written=True)


async def descendants(conn: AsyncConnection, path: str, *, lock: bool = False) -> list[WorkItem]:
    query = _select().where(_under(path)).order_by(_w.depth, _w.created_at, _w.id)
    if lock:
        query = query.with_for_update()
    return [record(row) for row in await conn.execute(query)]


_SUMMARY_SET = {column.name for column in SUMMARY_COLUMNS}


async def rebase_subtree(
    conn: AsyncConnection, old_path: str, new_path: str, now: datetime, actor: str
) -> None:
    """Rewrite the paths and depths below ``old_path`` to sit below ``new_path``."""
    depth_delta = new_path.count("/") - old_path.count("/")
    statement = (
        update(work_items)
        .where(_under(old_path))
        .values(
            path=literal(new_path) + func.substr(_w.path, len(old_path) + 1),
            depth=_w.depth + depth_delta,
            version=_w.version + 1,
            updated_at=now,
            updated_by=actor,
        )
    )
    await _execute_returning(conn, statement)


async def _execute_returning(conn: AsyncConnection, statement: Any) -> None:
    """Run a bulk UPDATE; the rows it changed are seen like any other rows returned."""
    if tap.active():
        for row in await conn.execute(statement.returning(*RECORD_COLUMNS)):
            record(row, written=True)
    else:
        await conn.execute(statement)


async def set_deleted(
    conn: AsyncConnection,
    ids: Sequence[str],
    deleted_at: datetime | None,
    now: datetime,
    actor: str,
) -> None:
    if ids:
        statement = (
            update(work_items)
            .where(_w.id.in_(ids))
            .values(deleted_at=deleted_at, version=_w.version + 1, updated_at=now, updated_by=actor)
        )
        await _execute_returning(conn, statement)


class has_label(FunctionElement[bool]):
    """True when the JSON array ``labels`` holds the string ``label``: ``json_each`` on
    SQLite, ``@>`` on Postgres (each database's own way to look inside a JSON array)."""

    type = Boolean()
    name = "has_label"
    inherit_cache = True


@compiles(has_label)
def _has_label_sqlite(element: has_label, compiler: SQLCompiler, **kw: Any) -> str:
    labels, label = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({labels}) WHERE json_each.value = {label})"


@compiles(has_label, "postgresql")
def _has_label_postgres(element: has_label, compiler: SQLCompiler, **kw: Any) -> str:
    labels, label = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{labels} @> jsonb_build_array({label})"


# Counting stops here: beyond it ``total_count`` is a lower bound (``total_count_exact``
# false), so the first page of a listing with 100,000 matches never counts them all.
EXACT_COUNT_LIMIT = 10_000


def capped_count(table: Table, conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """How many rows of ``table`` match, counted no further than one past the exact range
    (a LIMIT in the counted subquery)."""
    matching = (
        select(literal(1))
        .select_from(table)
        .where(*conditions)
        .limit(EXACT_COUNT_LIMIT + 1)
        .subquery()
    )
    return select(func.count()).select_from(matching)


@dataclass(frozen=True)
class ListFilter:
    item_type: str | None = None
    status: str | None = None
    parent_id: str | None = None
    root_only: bool = False
    text_pattern: str | None = None
    include_deleted: bool = False
    label: str | None = None
    priority: int | None = None
    claimed_by: str | None = None

    def parameters(self) -> dict[str, Any]:
        """The value filters given, by name: bind parameters of the listing statements."""
        given = {
            "item_type": self.item_type,
            "status": self.status,
            "parent_id": self.parent_id,
            "text_pattern": self.text_pattern,
            "label": self.label,
            "priority": self.priority,
            "claimed_by": self.claimed_by,
        }
        return {name: value for name, value in given.items() if value is not None}

    def conditions(self, table: Table) -> list[ColumnElement[bool]]:
        """The filter on ``table`` with its values inline: for the archive, which has the
        same columns and is listed seldom (the active table uses the cached statements)."""
        found = [_condition(table, name, value) for name, value in self.parameters().items()]
        if self.root_only:
            found.append(table.c.parent_id.is_(None))
        if not self.include_deleted:
            found.append(table.c.deleted_at.is_(None))
        return found


def _condition(table: Table, name: str, value: Any) -> ColumnElement[bool]:
    """One value filter on ``table``; ``value`` is a literal or a bind parameter."""
    if name == "text_pattern":
        return table.c.search_text.like(value, escape="\\")
    if name == "label":
        return has_label(table.c.labels, cast(value, String))
    matches: ColumnElement[bool] = table.c[name] == value
    return matches


def _matches(name: str) -> ColumnElement[bool]:
    return _condition(work_items, name, bindparam(name))


@functools.cache
def _listing(
    given: tuple[str, ...], root_only: bool, include_deleted: bool, summary: bool, after: bool
) -> tuple[Select[Any], Select[Any]]:
    """The count and page statements for one combination of filters, built once."""
    conditions = [_matches(name) for name in given]
    if root_only:
        conditions.append(_w.parent_id.is_(None))
    if not include_deleted:
        conditions.append(_w.deleted_at.is_(None))
    count = capped_count(work_items, conditions)
    page = select(*(SUMMARY_COLUMNS if summary else RECORD_COLUMNS)).where(*conditions)
    if after:
        position = tuple_(bindparam("after_at", type_=_w.updated_at.type), bindparam("after_id"))
        page = page.where(tuple_(_w.updated_at, _w.id) < position)
    page = page.order_by(_w.updated_at.desc(), _w.id.desc())
    return count, page.limit(bindparam("limit", type_=Integer))


async def list_page(
    conn: AsyncConnection,
    where: ListFilter,
    limit: int,
    after: tuple[datetime, str] | None,
    *,
    summary: bool = False,
) -> tuple[list[WorkItemSummary], int]:
    """One page, newest ``updated_at`` first, plus the count of all matches: whole
    ``WorkItem`` records, or with ``summary`` only the summary fields (a third of the
    cost: no metadata to decode)."""
    given = where.parameters()
    # Rows seen that fill the outage cache are needed whole, so only then the full columns.
    summary_columns = summary and not tap.active()
    count, page = _listing(
        tuple(given), where.root_only, where.include_deleted, summary_columns, after is not None
    )
    total = await conn.scalar(count, given)
    arguments = given | {"limit": limit}
    if after is not None:
        arguments |= {"after_at": after[0], "after_id": after[1]}
    rows = await conn.execute(page, arguments)
    if summary_columns:
        return [WorkItemSummary.model_validate(row._asdict()) for row in rows], int(total or 0)
    records = [record(row) for row in rows]
    if not summary:
        return list(records), int(total or 0)
    shown = [WorkItemSummary.model_validate(r.model_dump(include=_SUMMARY_SET)) for r in records]
    return shown, int(total or 0)


def claimable(actor: Any, now: Any, table: FromClause = work_items) -> ColumnElement[bool]:
    """Unclaimed, claimed by ``actor`` or with an expired lease (values or bind parameters),
    in ``table`` (work_items or an alias of it)."""
    c = table.c
    return or_(c.claimed_by.is_(None), c.claimed_by == actor, c.claim_expires_at <= now)


async def set_claim(
    conn: AsyncConnection, item_id: str, actor: str, until: datetime, now: datetime
) -> WorkItem | None:
    """Claim (or renew) unless another actor holds an unexpired lease."""
    statement = (
        update(work_items)
        .where(
            _w.id == item_id,
            _w.deleted_at.is_(None),
            _w.status.not_in(CLOSED_STATUSES),
            claimable(actor, now),
        )
        .values(claimed_by=actor, claim_expires_at=until)
        .returning(*RECORD_COLUMNS)
    )
    row = (await conn.execute(statement)).first()
    return None if row is None else record(row, written=True)


async def clear_claim(
    conn: AsyncConnection, item_id: str, actor: str, now: datetime
) -> WorkItem | None:
    statement = (
        update(work_items)
        .where(_w.id == item_id, claimable(actor, now))
        .values(claimed_by=None, claim_expires_at=None)
        .returning(*RECORD_COLUMNS)
    )
    row = (await conn.execute(statement)).first()
    return None if row is None else record(row, written=True)
