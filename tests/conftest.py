"""Fixtures: real databases only.

Postgres: a fresh database per test run on the server named by WORKTRACK_TEST_PG_URL
(default: the local server's ``test`` database, used only to create and drop ours),
migrated once and truncated before each test. SQLite: a migrated template file copied per
test. Tests that take ``backend`` run on both; Postgres tests never skip: an unreachable
server is an error.
"""

from __future__ import annotations

import os

# A test's in-memory client waits for the server to shut down cleanly, however loaded the
# machine is: abandoning it would leave its connections to be closed by the garbage collector.
os.environ.setdefault("FASTMCP_CLIENT_DISCONNECT_TIMEOUT", "120")

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from fastmcp import Client
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from worktrack.migrations import alembic_config
from worktrack.server import create_server
from worktrack.services.app import App
from worktrack.services.sync import sync_now
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app
from worktrack.tables import metadata

from faultproxy import FaultProxy
from pgcluster import Cluster

# Property-based tests: "ci" keeps example counts bounded; HYPOTHESIS_PROFILE=soak runs
# twenty times as many (the fuzz tests size themselves from max_examples).
hypothesis_settings.register_profile("ci", max_examples=100, deadline=None)
hypothesis_settings.register_profile("soak", max_examples=2000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ADMIN_URL = os.environ.get(
    "WORKTRACK_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)  # strictly increasing, like the real one
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(ADMIN_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"worktrack_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "head")
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "worktrack.db"
    command.upgrade(alembic_config(f"sqlite+aiosqlite:///{path}"), "head")
    return path


def _truncate(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)

    async def run() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(run())


@dataclass
class Backend:
    name: str
    url: str
    home: Path
    repo: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"database_url": self.url, "home": self.home, "repo": self.repo}
        return Settings(**(values | overrides))


def _fresh_sqlite(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "home" / "worktrack.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Backend:
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        _truncate(url)
        _fresh_cache(sqlite_template, tmp_path)
    else:
        url = _fresh_sqlite(sqlite_template, tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    return Backend(request.param, url, tmp_path / "home", repo)


def _fresh_cache(template: Path, tmp_path: Path) -> None:
    """The local cache a Postgres-backed server keeps, already migrated (as on a second start)."""
    path = tmp_path / "home" / "cache.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)


@pytest.fixture
def pg_backend(pg_url: str, tmp_path: Path, sqlite_template: Path) -> Backend:
    _truncate(pg_url)
    _fresh_cache(sqlite_template, tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    return Backend("postgres", pg_url, tmp_path / "home", repo)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(backend: Backend, clock: Clock) -> AsyncIterator[Client[Any]]:
    async with Client(create_server(backend.settings(), clock=clock)) as connected:
        yield connected


@pytest.fixture
async def app(backend: Backend, clock: Clock) -> AsyncIterator[App]:
    opened = await open_app(backend.settings(), clock)
    try:
        yield opened.acting_as("tester")
    finally:
        await close_app(opened)


# -- outages: a Postgres of the tests' own, which they may stop, through a proxy they control --

OUTAGE_DB = "worktrack"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A throwaway cluster on a free port (never the shared server), migrated to head."""
    made = Cluster()
    try:
        made.start()
        made.psql(f'CREATE DATABASE "{OUTAGE_DB}"')
        command.upgrade(alembic_config(made.url(OUTAGE_DB)), "head")
        yield made
    finally:
        made.destroy()


@dataclass
class Outage:
    cluster: Cluster
    proxy: FaultProxy
    home: Path
    repo: Path
    clock: Clock

    def settings(self, *, direct: bool = False, **overrides: Any) -> Settings:
        """Through the proxy (so the test can cut this server off), or straight to Postgres."""
        port = None if direct else self.proxy.port
        values: dict[str, Any] = {
            "database_url": self.cluster.url(OUTAGE_DB, port=port),
            "home": self.home,
            "repo": self.repo,
            "retry_seconds": 0,  # look for the primary again on every call
            "connect_timeout_seconds": 1,
            "statement_timeout_seconds": 2,
        }
        return Settings(**(values | overrides))

    def server(self, **overrides: Any) -> Any:
        return create_server(self.settings(**overrides), clock=self.clock)

    def sql(self, query: str) -> str:
        return self.cluster.psql(query, OUTAGE_DB)

    async def refresh(self, **overrides: Any) -> None:
        """Bring the replica in ``home`` up to date now, as ``worktrack sync`` does (the
        servers under test refresh it by themselves, but not at a moment a test knows)."""
        opened = await open_app(self.settings(direct=True, **overrides), self.clock)
        try:
            report = await sync_now(opened)
        finally:
            await close_app(opened)
        assert report.replica is not None and report.replica.kind != "skipped", report


@pytest.fixture
async def outage(
    cluster: Cluster, tmp_path: Path, sqlite_template: Path, clock: Clock
) -> AsyncIterator[Outage]:
    if not cluster.running():
        cluster.start()
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    cluster.psql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE", OUTAGE_DB)
    _fresh_cache(sqlite_template, tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    proxy = FaultProxy(cluster.port)
    await proxy.start()
    try:
        yield Outage(cluster, proxy, tmp_path / "home", repo, clock)
    finally:
        await proxy.close()
