"""SQL for vendors. Rows come back as ``Vendor`` models (envelope unset)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.vendors import Vendor
from worktrack.store import tap
from worktrack.store.sql import insert_if_absent
from worktrack.tables import vendors

RECORD_COLUMNS = [c for c in vendors.c if c.name != "name_key"]
_RECORD_NAMES = [c.name for c in RECORD_COLUMNS]
_v = vendors.c


def name_key(name: str) -> str:
    """What vendor names are compared by: names differing only in case are the same."""
    return name.casefold()


def _record(row: Any, *, written: bool = False, columns: list[str] | None = None) -> Vendor:
    values = row._asdict()
    if columns is not None:  # a row with more columns than the vendor's
        values = {name: values[name] for name in columns}
    tap.row(vendors, values, written=written)
    return Vendor.model_validate(values)


def _select() -> Select[Any]:
    return select(*RECORD_COLUMNS)


# Built once: building a statement and its cache key costs about what running it does.
_BY_ID = _select().where(_v.id == bindparam("id"))
_BY_NAME_KEY = _select().where(_v.name_key == bindparam("name_key"))


async def fetch(conn: AsyncConnection, vendor_id: str) -> Vendor | None:
    row = (await conn.execute(_BY_ID, {"id": vendor_id})).first()
    return None if row is None else _record(row)


async def fetch_by_name(conn: AsyncConnection, name: str) -> Vendor | None:
    row = (await conn.execute(_BY_NAME_KEY, {"name_key": name_key(name)})).first()
    return None if row is None else _record(row)


async def insert_if_new(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert unless a vendor with this name in any case exists; True when inserted."""
    inserted = await insert_if_absent(
        conn, vendors, {**values, "name_key": name_key(values["name"])}
    )
    if inserted:
        tap.wrote(vendors, values["id"])
    return inserted


async def update_if_version(
    conn: AsyncConnection, vendor_id: str, version: int, values: dict[str, Any]
) -> Vendor | None:
    """Apply ``values`` and bump the version, only if the stored version is ``version``."""
    statement = (
        update(vendors)
        .where(_v.id == vendor_id, _v.version == version)
        .values(**values, version=_v.version + 1)
        .returning(*RECORD_COLUMNS)
    )
    row = (await conn.execute(statement)).first()
    return None if row is None else _record(row, written=True)


async def list_all(conn: AsyncConnection, status: str | None = None) -> list[Vendor]:
    """Every vendor (with this status), by name in any case."""
    query = _select()
    if status:
        query = query.where(_v.status == status)
    found = [_record(row) for row in await conn.execute(query)]
    # Sorted here, not in SQL, so the order is the same whatever collation Postgres uses.
    return sorted(found, key=lambda vendor: (name_key(vendor.name), vendor.id))


def _by_name(conn: AsyncConnection) -> Any:
    # Byte order on both databases (SQLite's BINARY is), whatever collation Postgres was
    # created with: the order of Python's sort of the same keys, and of ``list_all``.
    return _v.name_key.collate("C") if conn.dialect.name == "postgresql" else _v.name_key


@dataclass(frozen=True)
class Page:
    vendors: list[Vendor]
    total_count: int
    operational_count: int


async def list_page(
    conn: AsyncConnection, status: str | None, limit: int, after: str | None
) -> Page:
    """Up to ``limit`` vendors (with this status) by name key after the key ``after``, and
    the counts of them all: one statement (the counts' one row joined to the page's rows),
    so one snapshot without a transaction."""
    key = _by_name(conn)
    matching = [_v.status == status] if status else []
    counted = (
        select(
            func.count().label("total_count"),
            func.count().filter(_v.status == "operational").label("operational_count"),
        )
        .where(*matching)
        .subquery("counted")
    )
    page = select(*RECORD_COLUMNS, key.label("sort_key")).where(*matching)
    if after is not None:
        page = page.where(key > after)
    listed = page.order_by(key).limit(limit).subquery("listed")
    query = (
        select(counted, listed)
        .select_from(counted.outerjoin(listed, true()))
        .order_by(listed.c.sort_key)
    )
    rows = (await conn.execute(query)).all()
    found = [_record(row, columns=_RECORD_NAMES) for row in rows if row.id is not None]
    return Page(found, int(rows[0].total_count), int(rows[0].operational_count))
