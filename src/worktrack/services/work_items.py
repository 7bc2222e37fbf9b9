"""Work items: create, update (edit, move a subtree, delete, restore), query, list."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import NotFoundError, ValidationError
from worktrack.hierarchy import MAX_DEPTH, ancestor_ids, child_path, depth_of, is_in_subtree
from worktrack.models.configuration import Configuration
from worktrack.models.work_items import (
    WorkItem,
    WorkItemDetail,
    WorkItemPage,
    WorkItemRecord,
    WorkItemSummary,
    checked_label,
    checked_labels,
    checked_metadata,
    claim_holds,
    merge_patch,
)
from worktrack.services import subtree, tree
from worktrack.services.app import App, reads, writes
from worktrack.services.common import created, decode_cursor, diff, encode_cursor
from worktrack.services.common import version_conflict as _conflict
from worktrack.services.notes import newest_of as newest_notes
from worktrack.store import archive as archive_store
from worktrack.store import configuration as configuration_store
from worktrack.store import dependencies as dependency_store
from worktrack.store import history
from worktrack.store import work_items as store
from worktrack.store.history import change_row
from worktrack.store.sql import resolve_id
from worktrack.tables import CLOSED_STATUSES, work_items_archive
from worktrack.tables import work_items as work_items_table
from worktrack.text import item_search_text, like_contains, reveal

ENTITY = "work_item"
TRACKED = (
    "item_type",
    "title",
    "description",
    "acceptance_criteria",
    "labels",
    "status",
    "priority",
    "parent_id",
    "path",
    "depth",
    "branch_name",
    "commit_hash",
    "pr_number",
    "metadata",
    "deleted_at",
)
SUMMARY_FIELDS = tuple(WorkItemSummary.model_fields)


async def _resolve(conn: AsyncConnection, ref: str, field: str = "id") -> str:
    return await resolve_id(conn, ref, ENTITY, work_items_table, work_items_archive, field=field)


async def load(conn: AsyncConnection, ref: str, *, lock: bool = False) -> WorkItem:
    """An active work item, to change or build on; an archived one is read-only."""
    item_id = await _resolve(conn, ref)
    found = await store.fetch(conn, item_id, lock=lock)
    if found is None:
        if await archive_store.fetch(conn, item_id) is not None:
            raise ValidationError("id", f"work item {item_id} is archived, so it is read-only")
        raise NotFoundError(ENTITY, id=item_id)
    return found


async def load_any(conn: AsyncConnection, ref: str, field: str = "id") -> WorkItem:
    """An active or archived work item (``archived_at`` set), to read."""
    item_id = await _resolve(conn, ref, field)
    found = await store.fetch(conn, item_id) or await archive_store.fetch(conn, item_id)
    if found is None:
        raise NotFoundError(ENTITY, id=item_id)
    return found


async def live_parent(conn: AsyncConnection, ref: str, *, lock: bool = False) -> WorkItem:
    parent = await load(conn, ref, lock=lock)
    if parent.deleted_at is not None:
        raise ValidationError("parent_id", f"parent {parent.id} is deleted")
    return parent


def summary(item: WorkItem) -> WorkItemSummary:
    return WorkItemSummary.model_construct(**{f: getattr(item, f) for f in SUMMARY_FIELDS})


def _check_depth(path: str, deepest_below: int = 0) -> None:
    if depth_of(path) + deepest_below > MAX_DEPTH:
        raise ValidationError(
            "parent_id", f"depth limit: items nest at most {MAX_DEPTH} levels below a root"
        )


def _description(item_type: str, value: str | None) -> str | None:
    """The description as stored: blank is none, which a project may not have."""
    if value is not None and value.strip():
        return value
    if item_type == "project":
        raise ValidationError("description", "required for a project: a non-blank description")
    return None


async def default_budget(conn: AsyncConnection) -> int:
    """The token budget a session gets when its metadata names none."""
    stored = await configuration_store.fetch(conn)
    return (stored or Configuration()).default_token_budget


@dataclass(frozen=True)
class NewItem:
    """A work item about to be stored: its row and its first history entry."""

    row: dict[str, Any]
    log: dict[str, Any]


def new_item(
    *,
    item_id: str,
    parent_path: str | None,
    item_type: str,
    title: str,
    description: str | None = None,
    acceptance_criteria: str | None = None,
    labels: list[str] | None = None,
    status: str = "active",
    priority: int = 2,
    metadata: dict[str, Any] | None = None,
    branch_name: str | None = None,
    commit_hash: str | None = None,
    pr_number: int | None = None,
    token_budget: int | None = None,
    now: datetime,
    actor: str,
) -> NewItem:
    """The rules of a new item, without I/O: its place below a live parent (given by path),
    the depth limit, a project's description, metadata checked by type (a session's missing
    ``token_budget`` is ``token_budget``). The legacy import stores many at once."""
    path = child_path(parent_path, item_id)
    _check_depth(path)
    stored_metadata = checked_metadata(item_type, metadata or {}, token_budget=token_budget)
    stored_description = _description(item_type, description)
    criteria = acceptance_criteria or None
    fields = {
        "item_type": item_type,
        "title": title,
        "description": stored_description,
        "acceptance_criteria": criteria,
        "labels": checked_labels(labels or []),
        "status": status,
        "priority": priority,
        "parent_id": ancestor_ids(path)[-1] if parent_path else None,
        "path": path,
        "depth": depth_of(path),
        "branch_name": branch_name or None,
        "commit_hash": commit_hash or None,
        "pr_number": pr_number,
        "metadata": stored_metadata,
    }
    row = {
        **fields,
        "id": item_id,
        "version": 1,
        "search_text": item_search_text(title, stored_description, criteria, stored_metadata),
        "created_at": now,
        "updated_at": now,
        "created_by": actor,
        "updated_by": actor,
    }
    return NewItem(row, change_row(ENTITY, item_id, 1, now, actor, created(fields)))


# A queued create keeps the metadata it stored: a session's default budget is the one the
# configuration had when the call was made, not when it replays.
@writes("create_work_item", WorkItem, entity=ENTITY, keep=("id", "metadata"))
async def create_work_item(
    app: App,
    conn: AsyncConnection,
    *,
    item_type: str,
    title: str,
    parent_id: str | None = None,
    description: str | None = None,
    acceptance_criteria: str | None = None,
    labels: list[str] | None = None,
    status: str = "active",
    priority: int = 2,
    metadata: dict[str, Any] | None = None,
    branch_name: str | None = None,
    commit_hash: str | None = None,
    pr_number: int | None = None,
    created_by: str | None = None,
    request_id: str | None = None,
    id: str | None = None,
) -> WorkItem:
    parent = await live_parent(conn, parent_id) if parent_id else None
    needs_budget = item_type == "session" and "token_budget" not in (metadata or {})
    made = new_item(
        item_id=id or str(uuid4()),
        parent_path=parent.path if parent else None,
        item_type=item_type,
        title=title,
        description=description,
        acceptance_criteria=acceptance_criteria,
        labels=labels,
        status=status,
        priority=priority,
        metadata=metadata,
        branch_name=branch_name,
        commit_hash=commit_hash,
        pr_number=pr_number,
        token_budget=await default_budget(conn) if needs_budget else None,
        now=app.clock(),
        actor=app.who(created_by),
    )
    item = await store.insert_one(conn, made.row)
    await history.append(conn, [made.log])
    return item


def _edits(item: WorkItem, given: dict[str, Any]) -> dict[str, Any]:
    """The new values of the plain fields the caller gave ("" and 0 clear a field, and
    a blank description or acceptance criteria too)."""
    edits = {name: value for name, value in given.items() if value is not None}
    for name in ("branch_name", "commit_hash", "pr_number", "acceptance_criteria"):
        if name in edits and not edits[name]:
            edits[name] = None
    if "description" in edits:
        edits["description"] = _description(item.item_type, edits["description"])
    if "labels" in edits:
        edits["labels"] = checked_labels(edits["labels"])
    return edits


async def _new_metadata(
    conn: AsyncConnection,
    item: WorkItem,
    metadata: dict[str, Any] | None,
    patch: dict[str, Any] | None,
) -> dict[str, Any]:
    """``{"metadata": ...}`` as ``metadata`` replaces or ``patch`` merges into the stored
    one (RFC 7396), checked by item type; ``{}`` when neither is given."""
    if metadata is not None and patch is not None:
        raise ValidationError("metadata_patch", "give metadata or metadata_patch, not both")
    if metadata is None and patch is None:
        return {}
    wanted = metadata if metadata is not None else merge_patch(item.metadata, patch)
    budget = None
    if item.item_type == "session" and "token_budget" not in wanted:
        budget = await default_budget(conn)
    return {"metadata": checked_metadata(item.item_type, wanted, token_budget=budget)}


def _claim_warning(item: WorkItem, actor: str, now: datetime) -> list[str]:
    """A warning when someone else holds an unexpired claim on the item being changed."""
    until = item.claim_expires_at
    holder = item.claimed_by
    if holder is None or holder == actor or not claim_holds(holder, until, now):
        return []
    end = until.isoformat() if until else "further notice"
    return [
        f"work item {item.id} is claimed by {reveal(holder)} until {end}; "
        "your change was applied anyway"
    ]


@writes("update_work_item", WorkItem, entity=ENTITY, keep=("id",))
async def update_work_item(
    app: App,
    conn: AsyncConnection,
    *,
    id: str,
    version: int,
    title: str | None = None,
    description: str | None = None,
    acceptance_criteria: str | None = None,
    labels: list[str] | None = None,
    status: str | None = None,
    priority: int | None = None,
    parent_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    metadata_patch: dict[str, Any] | None = None,
    branch_name: str | None = None,
    commit_hash: str | None = None,
    pr_number: int | None = None,
    deleted: bool | None = None,
    updated_by: str | None = None,
    request_id: str | None = None,
) -> WorkItem:
    reshapes = parent_id is not None or deleted is not None
    item = await load(conn, id, lock=reshapes)
    if item.version != version:
        raise _conflict(ENTITY, version, item)
    now, actor = app.clock(), app.who(updated_by)
    after = _edits(
        item,
        {
            "title": title,
            "description": description,
            "acceptance_criteria": acceptance_criteria,
            "labels": labels,
            "status": status,
            "priority": priority,
            "branch_name": branch_name,
            "commit_hash": commit_hash,
            "pr_number": pr_number,
        },
    )
    after |= await _new_metadata(conn, item, metadata, metadata_patch)
    warnings = _claim_warning(item, actor, now)
    below = await store.descendants(conn, item.path, lock=True) if reshapes else []
    if parent_id is not None:
        after |= await _placement(conn, item, parent_id, below)
    if deleted is not None:
        after |= await _deletion(conn, item, deleted, now)
    changes = diff({name: getattr(item, name) for name in TRACKED}, after)
    if not changes:
        return _warned(item, warnings)
    values = {name: after[name] for name in changes} | {"updated_at": now, "updated_by": actor}
    if changes.keys() & _SEARCHED:
        values["search_text"] = item_search_text(
            *(after.get(name, getattr(item, name)) for name in _SEARCHED)
        )
    if after.get("status") in CLOSED_STATUSES:
        values |= {"claimed_by": None, "claim_expires_at": None}
    updated = await store.update_if_version(conn, item.id, version, values)
    if updated is None:
        raise _conflict(ENTITY, version, await load(conn, item.id))
    log = [change_row(ENTITY, item.id, updated.version, now, actor, changes)]
    log += await subtree.follow(conn, item, updated, below, now, actor)
    await history.append(conn, log)
    return _warned(updated, warnings)


# The fields ``search_text`` is made of, in ``item_search_text``'s order.
_SEARCHED = ("title", "description", "acceptance_criteria", "metadata")


def _warned(item: WorkItem, warnings: list[str]) -> WorkItem:
    return item.model_copy(update={"warnings": warnings}) if warnings else item


async def _placement(
    conn: AsyncConnection, item: WorkItem, parent_ref: str, below: list[WorkItem]
) -> dict[str, Any]:
    """Where the item lands when moved under ``parent_ref`` ("" makes it a root)."""
    parent = await live_parent(conn, parent_ref, lock=True) if parent_ref else None
    if parent is not None and is_in_subtree(parent.path, item.path):
        raise ValidationError(
            "parent_id", "cannot move an item under itself or one of its descendants"
        )
    path = child_path(parent.path if parent else None, item.id)
    _check_depth(path, max((d.depth for d in below), default=item.depth) - item.depth)
    return {"parent_id": parent.id if parent else None, "path": path, "depth": depth_of(path)}


async def _deletion(
    conn: AsyncConnection, item: WorkItem, deleted: bool, now: datetime
) -> dict[str, Any]:
    if deleted:
        return {"deleted_at": item.deleted_at or now}
    if item.deleted_at is not None and item.parent_id is not None:
        parent = await load(conn, item.parent_id)
        if parent.deleted_at is not None:
            raise ValidationError(
                "deleted", f"its parent {parent.id} is deleted; restore the parent first"
            )
    return {"deleted_at": None}


@reads
async def query_work_item(
    app: App,
    conn: AsyncConnection,
    *,
    id: str,
    include_children: bool = True,
    include_dependencies: bool = True,
    max_nodes: int = 100,
) -> WorkItemDetail:
    item = await load_any(conn, id)
    if item.archived_at is None:
        view = await tree.live_view(
            conn, item, max_nodes=max_nodes, include_children=include_children
        )
    else:
        family = await _archived_family(conn, item)
        view = tree.archived_view(
            item, family, max_nodes=max_nodes, include_children=include_children
        )
    links = await dependency_store.of_item(conn, item.id) if include_dependencies else []
    notes, notes_count = await newest_notes(conn, item)
    return WorkItemDetail.model_validate(
        {
            **dict(item),
            **view,
            "dependencies": links,
            "notes": notes,
            "notes_count": notes_count,
        }
    )


Row = dict[str, Any]


async def _archived_family(conn: AsyncConnection, item: WorkItem) -> list[Row]:
    """An archived item's ancestors (active or archived) and its descendants, which are
    all archived (children move first), as summary rows in family order."""
    above = ancestor_ids(item.path)
    found = [
        *await store.fetch_many(conn, above),
        *await archive_store.fetch_many(conn, above),
        *await archive_store.descendants(conn, item.path),
    ]
    found.sort(key=lambda row: (row.depth, row.created_at, row.id))
    return [{f: getattr(row, f) for f in SUMMARY_FIELDS} for row in found]


@reads
async def list_work_items(
    app: App,
    conn: AsyncConnection,
    *,
    item_type: str | None = None,
    status: str | None = None,
    parent_id: str | None = None,
    root_only: bool = False,
    label: str | None = None,
    priority: int | None = None,
    claimed_by: str | None = None,
    text: str | None = None,
    include_deleted: bool = False,
    archived: bool = False,
    detail: Literal["summary", "full"] = "summary",
    limit: int = 50,
    cursor: str | None = None,
) -> WorkItemPage:
    parent = await _resolve(conn, parent_id) if parent_id else None
    where = store.ListFilter(
        item_type=item_type,
        status=status,
        parent_id=parent,
        root_only=root_only,
        text_pattern=like_contains(text) if text else None,
        include_deleted=include_deleted,
        label=checked_label(label) if label else None,
        priority=priority,
        claimed_by=claimed_by,
    )
    scope = asdict(where) | ({"archived": True} if archived else {})
    after = _position(decode_cursor(cursor, scope)) if cursor else None
    if archived:
        # The archive is listed as whole records (it is not a hot path).
        found, total = await archive_store.list_page(conn, where, limit + 1, after)
        rows: list[WorkItemRecord | WorkItemSummary] = (
            list(found) if detail == "full" else [summary(item) for item in found]
        )
    else:
        listed, total = await store.list_page(
            conn, where, limit + 1, after, summary=detail == "summary"
        )
        rows = list(listed)
    page = rows[:limit]
    more = len(rows) > limit
    return WorkItemPage(
        items=list(page),
        total_count=total,
        total_count_exact=total <= store.EXACT_COUNT_LIMIT,
        next_cursor=encode_cursor([page[-1].updated_at, page[-1].id], scope) if more else None,
    )


def _position(raw: list[Any]) -> tuple[datetime, str]:
    try:
        updated_at, item_id = raw
        return datetime.fromisoformat(updated_at), str(item_id)
    except (TypeError, ValueError):
        raise ValidationError("cursor", "not a cursor this server issued") from None
