"""What the database alone costs on this machine, through the raw driver (asyncpg,
sqlite3): one round trip, and one single-row INSERT with its COMMIT (the disk's flush).
Tool calls are measured against these and against the no-op tool."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from worktrack.bench.measure import Stats

ROUNDS = 200
_TABLE = "bench_floor"


def _postgres_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres(url: str, rounds: int) -> dict[str, Stats]:
    conn = await asyncpg.connect(_postgres_dsn(url))
    try:
        await conn.execute(f"CREATE TABLE {_TABLE} (id serial PRIMARY KEY, note text)")
        found = {}
        for name, sql in (
            ("round_trip", "SELECT 1"),
            ("insert_commit", f"INSERT INTO {_TABLE} (note) VALUES ('x')"),  # autocommit
        ):
            samples = []
            for _ in range(rounds):
                start = time.perf_counter()
                await conn.execute(sql)
                samples.append(time.perf_counter() - start)
            found[name] = Stats.of(samples)
        await conn.execute(f"DROP TABLE {_TABLE}")
        return found
    finally:
        await conn.close()


def _timed(run: Callable[[], object], rounds: int) -> Stats:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return Stats.of(samples)


def _sqlite(path: str, rounds: int) -> dict[str, Stats]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # as the product's engine sets it
        conn.execute(f"CREATE TABLE {_TABLE} (id INTEGER PRIMARY KEY, note TEXT)")

        def insert_commit() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"INSERT INTO {_TABLE} (note) VALUES ('x')")
            conn.execute("COMMIT")

        found = {
            "round_trip": _timed(lambda: conn.execute("SELECT 1").fetchall(), rounds),
            "insert_commit": _timed(insert_commit, rounds),
        }
        conn.execute(f"DROP TABLE {_TABLE}")
        return found
    finally:
        conn.close()


async def measure(url: str, rounds: int = ROUNDS) -> dict[str, Stats]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        return await asyncio.to_thread(_sqlite, parsed.database, rounds)
    return await _postgres(url, rounds)
