"""Writing many rows: one statement per chunk, so no single statement carries 100,000 rows
and the caller can say how far it has got between chunks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
# Rows per statement: a few hundred kilobytes of parameters, well inside either database's
# limits, and a round trip short enough to report progress between.
CHUNK_ROWS = 1000
Advance = Callable[[int], Awaitable[None]]


def chunks(rows: Sequence[T], size: int = CHUNK_ROWS) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def insert_rows(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    advance: Advance | None = None,
) -> None:
    """Insert ``rows`` in order, a chunk per statement; ``advance`` hears each chunk's size."""
    for chunk in chunks(rows):
        await conn.execute(insert(table), list(chunk))
        if advance is not None:
            await advance(len(chunk))
