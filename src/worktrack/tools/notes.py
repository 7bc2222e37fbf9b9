"""Note tools (in the work_items toolset): parse arguments, call one service."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from pydantic import Field

from worktrack.models.common import Actor, Cursor, IdRef, RequestId
from worktrack.models.notes import Note, NotePage, NoteText
from worktrack.services import notes
from worktrack.tools.common import app_of
from worktrack.tools.work_items import tools


@tools.write()
async def add_note(
    ctx: Context,
    work_item_id: IdRef,
    text: Annotated[NoteText, Field(description="markdown")],
    created_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Note:
    """Append a hand-off note to a work item (its version is unchanged)."""
    return await notes.add_note(
        app_of(ctx),
        work_item_id=work_item_id,
        text=text,
        created_by=created_by,
        request_id=request_id,
    )


@tools.read
async def list_notes(
    ctx: Context,
    work_item_id: IdRef,
    limit: Annotated[int, Field(ge=1, le=200)] = 20,
    cursor: Cursor | None = None,
) -> NotePage:
    """A work item's notes, newest first, a page at a time."""
    return await notes.list_notes(
        app_of(ctx), work_item_id=work_item_id, limit=limit, cursor=cursor
    )
