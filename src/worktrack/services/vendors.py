"""Vendors: create, look up by name in any case, update status and metadata, list."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import ConflictError, NotFoundError, ValidationError
from worktrack.models.vendors import Vendor, VendorList, parse_metadata, stored_metadata
from worktrack.services.app import App, reads_one, writes
from worktrack.services.common import created, decode_cursor, diff, encode_cursor
from worktrack.services.common import version_conflict as _conflict
from worktrack.store import history
from worktrack.store import vendors as store
from worktrack.store.history import change_row
from worktrack.store.sql import resolve_id
from worktrack.tables import vendors as vendors_table

ENTITY = "vendor"
TRACKED = ("status", "extractor_version", "metadata")
NAME_KEY_LENGTH = 100  # the name_key column
_ID_LIKE = re.compile(r"^[0-9a-fA-F][0-9a-fA-F-]{7,35}$")


async def load(conn: AsyncConnection, name: str) -> Vendor:
    found = await store.fetch_by_name(conn, name)
    if found is None:
        raise NotFoundError(ENTITY, name=name)
    return found


async def history_id(conn: AsyncConnection, ref: str) -> str:
    """The vendor ``get_history`` means by ``ref``: a name in any case, an id or a prefix."""
    found = await store.fetch_by_name(conn, ref)
    if found is not None:
        return found.id
    if not _ID_LIKE.match(ref):
        raise NotFoundError(ENTITY, name=ref)
    vendor_id = await resolve_id(conn, ref, ENTITY, vendors_table)
    if await store.fetch(conn, vendor_id) is None:
        raise NotFoundError(ENTITY, id=vendor_id)
    return vendor_id


def _check_name(name: str) -> None:
    # Case folding can lengthen a name ("ß" -> "ss"); its key must still fit.
    if len(store.name_key(name)) > NAME_KEY_LENGTH:
        raise ValidationError("name", f"at most {NAME_KEY_LENGTH} characters once case is folded")


@writes("create_vendor", Vendor, entity=ENTITY, keep=("id",))
async def create_vendor(
    app: App,
    conn: AsyncConnection,
    *,
    name: str,
    extractor_version: str,
    metadata: dict[str, Any],
    status: str = "operational",
    created_by: str | None = None,
    request_id: str | None = None,
    id: str | None = None,
) -> Vendor:
    _check_name(name)
    fields = {
        "name": name,
        "status": status,
        "extractor_version": extractor_version,
        "metadata": stored_metadata(parse_metadata(metadata), extractor_version),
    }
    vendor_id, now, actor = id or str(uuid4()), app.clock(), app.who(created_by)
    row = fields | {
        "id": vendor_id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": actor,
        "updated_by": actor,
    }
    # Insert-or-nothing, not check-then-insert: of two concurrent creates of one name,
    # the unique name_key lets exactly one in.
    if not await store.insert_if_new(conn, row):
        raise await _duplicate(conn, name)
    await history.append(conn, [change_row(ENTITY, vendor_id, 1, now, actor, created(fields))])
    return await load(conn, name)


async def _duplicate(conn: AsyncConnection, name: str) -> ConflictError:
    existing = await store.fetch_by_name(conn, name)
    shown = existing.name if existing else name
    return ConflictError(
        f"a vendor named {shown!r} already exists (names ignore case)",
        name=shown,
        id=existing.id if existing else None,
    )


def _edits(
    vendor: Vendor,
    status: str | None,
    extractor_version: str | None,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """The new values; ``extractor_version`` and ``metadata.extractor_version`` move together."""
    edits: dict[str, Any] = {} if status is None else {"status": status}
    if metadata is not None:
        parsed = parse_metadata(metadata)
        version = extractor_version or parsed.extractor_version or vendor.extractor_version
        return edits | {
            "extractor_version": version,
            "metadata": stored_metadata(parsed, version),
        }
    if extractor_version is not None:
        edits |= {
            "extractor_version": extractor_version,
            "metadata": {**vendor.metadata, "extractor_version": extractor_version},
        }
    return edits


@writes("update_vendor_status", Vendor, entity=ENTITY)
async def update_vendor_status(
    app: App,
    conn: AsyncConnection,
    *,
    name: str,
    version: int,
    status: str | None = None,
    extractor_version: str | None = None,
    metadata: dict[str, Any] | None = None,
    updated_by: str | None = None,
    request_id: str | None = None,
) -> Vendor:
    if status is None and extractor_version is None and metadata is None:
        raise ValidationError("status", "give at least one of status, extractor_version, metadata")
    vendor = await load(conn, name)
    if vendor.version != version:
        raise _conflict(ENTITY, version, vendor)
    after = _edits(vendor, status, extractor_version, metadata)
    changes = diff({field: getattr(vendor, field) for field in TRACKED}, after)
    if not changes:
        return vendor
    now, actor = app.clock(), app.who(updated_by)
    values = {field: after[field] for field in changes} | {"updated_at": now, "updated_by": actor}
    updated = await store.update_if_version(conn, vendor.id, version, values)
    if updated is None:
        raise _conflict(ENTITY, version, await load(conn, name))
    await history.append(
        conn, [change_row(ENTITY, vendor.id, updated.version, now, actor, changes)]
    )
    return updated


@reads_one  # one SELECT by name key
async def query_vendor_status(app: App, conn: AsyncConnection, *, name: str) -> Vendor:
    return await load(conn, name)


@reads_one  # the page and the counts in one SELECT
async def list_vendors(
    app: App,
    conn: AsyncConnection,
    *,
    status: str | None = None,
    limit: int = 40,
    cursor: str | None = None,
) -> VendorList:
    scope = {"status": status}
    after = _after(decode_cursor(cursor, scope)) if cursor else None
    found = await store.list_page(conn, status, limit + 1, after)
    page = found.vendors[:limit]
    more = len(found.vendors) > limit
    return VendorList(
        items=page,
        total_count=found.total_count,
        operational_count=found.operational_count,
        next_cursor=encode_cursor([store.name_key(page[-1].name)], scope) if more else None,
    )


def _after(position: list[Any]) -> str:
    match position:
        case [str() as key]:
            return key
    raise ValidationError("cursor", "not a cursor this server issued")
