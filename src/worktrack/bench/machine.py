"""What the numbers were measured on."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


async def _database(engine: AsyncEngine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    async with engine.connect() as conn:
        version = await conn.scalar(text("SHOW server_version"))
    return f"PostgreSQL {version}"


async def describe(engine: AsyncEngine) -> dict[str, str]:
    return {
        "cpu": _cpu(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "database": await _database(engine),
        "fastmcp": metadata.version("fastmcp"),
        "sqlalchemy": metadata.version("sqlalchemy"),
        # The machine is shared: the load says how much of it the run had.
        "load average (1 min) before": f"{os.getloadavg()[0]:.2f}",
    }
