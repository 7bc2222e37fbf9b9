"""The report's SQL: one statement per section (two for work items), built once at
import (building and cache-keying a statement costs more than running the small ones).

Each returns what its section shows, in the order the section shows it (work items are
ordered once their ancestors have joined them), so the number of statements never
depends on how much data there is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Text, bindparam, cast, func, literal_column, or_, select, text

from worktrack.store.readiness import is_open
from worktrack.tables import (
    OPEN_STATUSES,
    change_log,
    dependencies,
    deployment_vendors,
    deployments,
    enhancements,
    vendors,
    work_items,
)

# Postgres: the first statement of the report's transaction, so that all of them see one state
# of the database (READ COMMITTED gives each statement its own); SQLite's transaction does.
ONE_SNAPSHOT = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
RECENT_DEPLOYMENTS = 20
LISTED_STATUSES = OPEN_STATUSES  # every open item: all but completed and cancelled

VENDORS = select(
    vendors.c.id,
    vendors.c.version,
    vendors.c.name,
    vendors.c.status,
    vendors.c.extractor_version,
    # As text: ``readmodel`` decodes each distinct text once per process, not per report.
    cast(vendors.c.metadata, Text),
).order_by(vendors.c.name_key)  # unique: its index gives the order, no sort (5 ms at 3,735)


# Live open items, and (by id) the ancestors they need so each tree is whole; ``readmodel``
# reads the ancestors' ids off the listed items' paths. (One recursive query did both, but
# Postgres misjudges the recursion and scans the table at every step: 190 ms at 100,000
# items, against 7 ms for these two.)
_w = work_items.c
_below = work_items.alias("below")


def _count_below(*conditions: Any) -> Any:
    """Live descendants of the outer item meeting ``conditions``: a range of the path index
    (the item's path and a slash, up to its path and "0", the character after "/")."""
    return (
        select(func.count())
        .where(
            _below.c.path > _w.path + "/",
            _below.c.path < _w.path + "0",
            _below.c.deleted_at.is_(None),
            *conditions,
        )
        .scalar_subquery()
    )


_ITEM_COLUMNS = (
    _w.id,
    _w.version,
    _w.title,
    _w.item_type,
    _w.status,
    _w.parent_id,
    _w.created_at,
    _w.branch_name,
    _w.priority,
    _w.labels,
    _w.claimed_by,
    _w.claim_expires_at,
    _w.path,  # for the ancestors
    # ``status || ''``: no index serves it, so SQLite scans the path range, not every
    # completed item of the database per listed item (142 ms at 1,200 items, now 3 ms).
    _count_below(_below.c.status + literal_column("''") == "completed").label("completed_below"),
    _count_below(_below.c.status != "cancelled").label("to_do_below"),
)
LISTED_WORK_ITEMS = select(*_ITEM_COLUMNS).where(
    _w.deleted_at.is_(None), _w.status.in_(LISTED_STATUSES)
)
WORK_ITEMS_BY_ID = select(*_ITEM_COLUMNS).where(_w.id.in_(bindparam("ids", expanding=True)))


def _unmet() -> Select[Any]:
    """(waiter id, blocker id, blocker title) of every unmet dependency between live open
    items, the blockers by priority, then age."""
    d, waiter, blocker = dependencies.c, work_items.alias("waiter"), work_items.alias("blocker")
    arms = [
        select(
            waiter.c.id.label("waiter_id"),
            blocker.c.id.label("blocker_id"),
            blocker.c.title,
            blocker.c.priority,
            blocker.c.created_at,
        )
        .select_from(dependencies)
        .join(waiter, waiter.c.id == waits)
        .join(blocker, blocker.c.id == blocks)
        .where(d.dependency_type == kind, is_open(waiter), is_open(blocker))
        for kind, waits, blocks in (
            ("depends_on", d.source_id, d.target_id),
            ("blocks", d.target_id, d.source_id),
        )
    ]
    unmet = arms[0].union_all(arms[1]).subquery("unmet")
    return select(unmet.c.waiter_id, unmet.c.blocker_id, unmet.c.title).order_by(
        unmet.c.priority, unmet.c.created_at, unmet.c.blocker_id
    )


UNMET = _unmet()

DEPLOYMENTS = select(
    deployments.c.id, deployments.c.deployed_at, deployments.c.commit_hash, deployments.c.metadata
)
RECENT = DEPLOYMENTS.order_by(deployments.c.deployed_at.desc(), deployments.c.id.desc()).limit(
    RECENT_DEPLOYMENTS
)
SINCE = DEPLOYMENTS.where(deployments.c.deployed_at > bindparam("since")).order_by(
    deployments.c.deployed_at, deployments.c.id
)


def _names_of(*shown: Select[Any]) -> Select[Any]:
    """Linked vendor names of the deployments ``shown`` selects, by deployment and name."""
    linked = deployment_vendors.c.deployment_id
    return (
        select(linked, vendors.c.name)
        .join(vendors, vendors.c.id == deployment_vendors.c.vendor_id)
        .where(or_(*(linked.in_(select(query.subquery().c.id)) for query in shown)))
        .order_by(deployment_vendors.c.deployment_id, vendors.c.name_key, vendors.c.id)
    )


NAMES = _names_of(RECENT)
NAMES_WITH_SINCE = _names_of(RECENT, SINCE)

ENHANCEMENTS = (
    select(
        enhancements.c.id,
        enhancements.c.version,
        enhancements.c.title,
        enhancements.c.priority,
        enhancements.c.status,
        enhancements.c.target_quarter,
        enhancements.c.description,
    )
    .where(enhancements.c.status != "completed")
    .order_by(
        enhancements.c.priority, enhancements.c.target_quarter.asc().nulls_last(), enhancements.c.id
    )
)


def _changed_work_items() -> Select[Any]:
    """Change-log rows after ``since`` that create, complete or block a live work item: the
    version-1 row is the creation, a row whose new status is completed/blocked the others."""
    new_status = change_log.c.changes[("status", 1)].as_string()
    return (
        select(
            change_log.c.version,
            new_status,
            change_log.c.changed_at,
            work_items.c.id,
            work_items.c.version,
            work_items.c.title,
            work_items.c.item_type,
        )
        .join(work_items, work_items.c.id == change_log.c.entity_id)
        .where(
            change_log.c.entity == "work_item",
            change_log.c.changed_at > bindparam("since"),
            or_(change_log.c.version == 1, new_status.in_(("completed", "blocked"))),
            work_items.c.deleted_at.is_(None),
        )
        .order_by(change_log.c.changed_at, change_log.c.id)
    )


CHANGES = _changed_work_items()


# The digest (``summary``) reads counts and the few rows it shows, not every row.
VENDOR_COUNTS = select(
    func.count(), func.count().filter(vendors.c.status == "operational")
).select_from(vendors)
BROKEN_VENDORS = (
    select(vendors.c.id, vendors.c.name, vendors.c.status)
    .where(vendors.c.status != "operational")
    .order_by(vendors.c.name_key)
)
RECENT_COUNT = select(func.count()).select_from(RECENT.subquery())
ENHANCEMENT_COUNT = (
    select(func.count()).select_from(enhancements).where(enhancements.c.status != "completed")
)
