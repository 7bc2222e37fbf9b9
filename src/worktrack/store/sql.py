"""Small SQL helpers every store module uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import NotFoundError, ValidationError
from worktrack.hierarchy import prefix_bounds

FULL_ID_LENGTH = 36
_SHOWN_CANDIDATES = 5


async def insert_if_absent(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """Insert unless the primary key exists; True when this call inserted the row.

    On Postgres a concurrent insert of the same key makes this wait for that transaction,
    so the answer is decided by what committed."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing()
    result = await conn.execute(statement)
    return result.rowcount == 1


async def resolve_id(
    conn: AsyncConnection, ref: str, kind: str, *tables: Table, field: str = "id"
) -> str:
    """The full id ``ref`` names: itself, or the one id starting with that prefix."""
    ref = ref.lower()
    if len(ref) == FULL_ID_LENGTH:
        return ref
    low, high = prefix_bounds(ref)
    found: list[str] = []
    for table in tables:
        query = (
            select(table.c.id)
            .where(table.c.id >= low, table.c.id < high)
            .limit(_SHOWN_CANDIDATES + 1)
        )
        found += (await conn.scalars(query)).all()
    if not found:
        raise NotFoundError(kind, id=ref)
    if len(found) > 1:
        shown = ", ".join(sorted(found)[:_SHOWN_CANDIDATES])
        raise ValidationError(field, f"prefix {ref!r} is ambiguous; it matches {shown}")
    return found[0]


async def resolve_all(
    conn: AsyncConnection, refs: Sequence[str], kind: str, table: Table, field: str
) -> list[str]:
    """The full ids ``refs`` name, in order; each must exist and appear once."""
    ids: list[str] = []
    for ref in refs:
        found = await resolve_id(conn, ref, kind, table, field=field)
        if found in ids:
            raise ValidationError(field, f"{found} is listed more than once")
        ids.append(found)
    # resolve_id trusts full-length ids; one query checks them all.
    present = (
        set(await conn.scalars(select(table.c.id).where(table.c.id.in_(ids)))) if ids else set()
    )
    missing = [i for i in ids if i not in present]
    if missing:
        raise NotFoundError(kind, id=missing[0])
    return ids


async def ping(conn: AsyncConnection) -> int:
    """The cheapest round trip: proves the database answers."""
    return int(await conn.scalar(text("SELECT 1")) or 0)
