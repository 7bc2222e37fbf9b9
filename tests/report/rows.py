"""Vendor, deployment and enhancement rows for report tests, inserted with SQLAlchemy Core
(their tools are built separately; the report only reads the tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.services.app import App
from worktrack.tables import deployment_vendors, deployments, enhancements, vendors

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def vendor(
    id: str,
    name: str,
    *,
    status: str = "operational",
    version: int = 1,
    tests: tuple[int, int, int] = (45, 50, 2),
    formats: dict[str, bool] | None = None,
    extractor_version: str = "1.2.3",
) -> dict[str, Any]:
    passing, total, skipped = tests
    flags = {"excel": True, "csv": True, "pdf": False, "ocr": False} | (formats or {})
    return {
        "id": id,
        "version": version,
        "name": name,
        "name_key": name.casefold(),
        "status": status,
        "extractor_version": extractor_version,
        "metadata": {
            "format_support": flags,
            "test_results": {"passing": passing, "total": total, "skipped": skipped},
            "extractor_version": extractor_version,
            "manifest_compliant": True,
        },
        "created_at": AT,
        "updated_at": AT,
        "created_by": "tester",
        "updated_by": "tester",
    }


def deployment(
    id: str,
    deployed_at: datetime,
    *,
    pr_number: int = 101,
    pr_title: str = "Ship it",
    commit: str = "a767c76fb008f86bebb2737f6a6f0fb23c6f5da2",
    tests: dict[str, int] | None = None,
    compliant: bool = True,
) -> dict[str, Any]:
    return {
        "id": id,
        "deployed_at": deployed_at,
        "commit_hash": commit,
        "metadata": {
            "pr_number": pr_number,
            "pr_title": pr_title,
            "commit_hash": commit,
            "test_summary": {"unit": 93, "integration": 46} if tests is None else tests,
            "constitutional_compliance": compliant,
        },
        "created_at": deployed_at,
        "created_by": "tester",
    }


def enhancement(
    id: str,
    title: str,
    *,
    priority: int = 3,
    status: str = "planned",
    target_quarter: str | None = None,
    description: str | None = None,
    version: int = 1,
) -> dict[str, Any]:
    return {
        "id": id,
        "version": version,
        "title": title,
        "description": description,
        "priority": priority,
        "status": status,
        "target_quarter": target_quarter,
        "requires_constitutional_principles": [],
        "created_at": AT,
        "updated_at": AT,
        "created_by": "tester",
        "updated_by": "tester",
    }


async def insert_rows(
    app: App,
    *,
    vendor_rows: Sequence[dict[str, Any]] = (),
    deployment_rows: Sequence[dict[str, Any]] = (),
    links: Sequence[tuple[str, str]] = (),
    enhancement_rows: Sequence[dict[str, Any]] = (),
) -> None:
    """Insert the rows in one transaction; ``links`` are (deployment id, vendor id) pairs."""

    async def unit(conn: AsyncConnection) -> None:
        for table, rows in (
            (vendors, vendor_rows),
            (deployments, deployment_rows),
            (enhancements, enhancement_rows),
        ):
            if rows:
                await conn.execute(insert(table), list(rows))
        if links:
            pairs = [{"deployment_id": d, "vendor_id": v} for d, v in links]
            await conn.execute(insert(deployment_vendors), pairs)

    await app.db.run(unit, write=True)
