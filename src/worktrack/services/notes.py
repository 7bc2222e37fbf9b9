"""Notes: append-only remarks on a work item for whoever picks it up next.

A note is numbered within its item (``ordinal`` 1, 2, ...) in the order notes were written,
so the order never depends on a clock (two notes in one tick keep theirs). The next number
is taken under the item's row lock on Postgres (SQLite has one writer at a time), so
concurrent writers never take the same one or leave a gap. Notes do not touch the item's
row: its ``version`` and ``updated_at`` stay as they are. They move to the archive with
their item; an archived item is read-only, so it takes no new notes (ADR 0013).
"""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import NotFoundError, ValidationError
from worktrack.models.notes import NEWEST_SHOWN, Note, NotePage, NoteRecord
from worktrack.models.work_items import WorkItem
from worktrack.services.app import App, reads, writes
from worktrack.services.common import decode_cursor, encode_cursor
from worktrack.store import archive as archive_store
from worktrack.store import notes as store
from worktrack.store import work_items as item_store
from worktrack.store.sql import resolve_id
from worktrack.tables import work_items, work_items_archive

ENTITY = "note"
FIELD = "work_item_id"


async def _item_id(conn: AsyncConnection, ref: str) -> str:
    return await resolve_id(conn, ref, "work_item", work_items, work_items_archive, field=FIELD)


async def _item(conn: AsyncConnection, ref: str, *, lock: bool = False) -> WorkItem:
    """The item ``ref`` names, active or archived (``archived_at`` set)."""
    item_id = await _item_id(conn, ref)
    found = await item_store.fetch(conn, item_id, lock=lock) or await archive_store.fetch(
        conn, item_id
    )
    if found is None:
        raise NotFoundError("work_item", id=item_id)
    return found


@writes("add_note", Note, entity=ENTITY, keep=("id", "work_item_id", "created_at"))
async def add_note(
    app: App,
    conn: AsyncConnection,
    *,
    work_item_id: str,
    text: str,
    created_by: str | None = None,
    request_id: str | None = None,
    id: str | None = None,
    created_at: datetime | None = None,
) -> Note:
    # ``id`` and ``created_at`` are not the tool's arguments: a call queued during an
    # outage records what it chose, so its replay writes the same note.
    item = await _item(conn, work_item_id, lock=True)
    if item.archived_at is not None:
        raise ValidationError(FIELD, f"work item {item.id} is archived, so it is read-only")
    values = {
        "id": id or str(uuid4()),
        "work_item_id": item.id,
        "ordinal": await store.next_ordinal(conn, item.id),
        "text": text,
        "created_at": created_at or app.clock(),
        "created_by": app.who(created_by),
    }
    return Note.model_validate(dict(await store.insert_one(conn, values)))


@reads
async def list_notes(
    app: App,
    conn: AsyncConnection,
    *,
    work_item_id: str,
    limit: int = 20,
    cursor: str | None = None,
) -> NotePage:
    item = await _item(conn, work_item_id)
    archived = item.archived_at is not None
    scope = {FIELD: item.id}
    before = _position(decode_cursor(cursor, scope)) if cursor else None
    found = await store.newest(conn, item.id, limit + 1, archived=archived, before=before)
    page = found[:limit]
    more = len(found) > limit
    return NotePage(
        items=[note for _, note in page],
        total_count=await store.count(conn, item.id, archived=archived),
        next_cursor=encode_cursor([page[-1][0]], scope) if more else None,
    )


async def newest_of(conn: AsyncConnection, item: WorkItem) -> tuple[list[NoteRecord], int]:
    """The item's newest notes and how many it has, for ``query_work_item``."""
    archived = item.archived_at is not None
    return await store.newest_and_count(conn, item.id, NEWEST_SHOWN, archived=archived)


def _position(raw: list[object]) -> int:
    if len(raw) != 1 or not isinstance(raw[0], int) or isinstance(raw[0], bool):
        raise ValidationError("cursor", "not a cursor this server issued")
    return raw[0]
