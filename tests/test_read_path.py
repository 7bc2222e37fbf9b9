"""The generic read path (issue 15): a read of one statement runs outside a transaction
(no BEGIN/COMMIT round trips); a read of several keeps one transaction, one snapshot."""

from __future__ import annotations

from typing import Any

from fastmcp import Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import OneStatement
from worktrack.services import vendors
from worktrack.services.app import App

from helpers import call, counting

METADATA = {
    "format_support": {"excel": True, "csv": True, "pdf": False, "ocr": False},
    "test_results": {"passing": 3, "total": 5, "skipped": 0},
}


async def _in_transaction(conn: AsyncConnection) -> bool:
    await conn.execute(text("SELECT 1"))
    raw = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "postgresql":
        return bool(raw.is_in_transaction())  # type: ignore[union-attr]
    return bool(raw.in_transaction)  # type: ignore[union-attr]


async def test_one_statement_runs_outside_a_transaction_and_others_inside(app: App) -> None:
    assert await app.db.run(OneStatement(_in_transaction)) is False
    assert await app.db.run(_in_transaction) is True
    # The connection goes back to the pool as it came: the next unit is transactional.
    assert await app.db.run(_in_transaction) is True


async def test_a_vendor_lookup_sends_its_select_and_nothing_else(
    app: App, client: Client[Any]
) -> None:
    await call(client, "create_vendor", name="Acme", extractor_version="1.0", metadata=METADATA)
    await vendors.query_vendor_status(app, name="acme")  # a first call may prepare
    with counting(app) as statements:
        found = await vendors.query_vendor_status(app, name="ACME")
    assert found.name == "Acme"
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")
    with counting(app) as statements:
        listed = await vendors.list_vendors(app)
    assert listed.total_count == 1 and len(statements) == 1
