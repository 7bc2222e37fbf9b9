"""Notes at the boundary: the text a caller may write, and the note as a result."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from worktrack.models.common import Envelope, Shown, Text, Timestamp

MAX_NOTE_LENGTH = 20_000
# The contract bounds the length only: whitespace is text too (an indented snippet).
NoteText = Annotated[Text, Field(min_length=1, max_length=MAX_NOTE_LENGTH)]
# What query_work_item shows of an item's notes: the newest few.
NEWEST_SHOWN = 5


class NoteRecord(BaseModel):
    """A note as stored (``ordinal`` numbers an item's notes in the order written)."""

    model_config = ConfigDict(frozen=True)

    id: str
    work_item_id: str
    text: Shown
    created_at: Timestamp
    created_by: Shown


class Note(NoteRecord, Envelope):
    """One note, as a tool result."""


class NotePage(Envelope):
    items: list[NoteRecord]
    total_count: int
    next_cursor: str | None
