"""The shared primary (Postgres) and what this process knows of its health.

After a failure the primary is not tried again for ``retry_seconds``: while it is down,
calls go straight to the fallback layers instead of each paying the connect timeout. The
schema is checked whenever the primary is reached after being down (or never reached), so
a server started during an outage never writes to an old schema.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TypeVar

from worktrack import migrations
from worktrack.db import Database, DataSource, Unit
from worktrack.errors import UnavailableError
from worktrack.store.sql import ping

T = TypeVar("T")


@dataclass
class PrimaryState:
    healthy: bool
    error: str | None
    latency_ms: float | None
    down_since: float | None  # time.time() of the first failure of this outage
    schema_revision: str | None


class Primary:
    def __init__(self, db: Database, retry_seconds: float) -> None:
        self.db = db
        self.retry_seconds = retry_seconds
        self._healthy = False
        self._schema_checked = False
        self._retry_at = 0.0
        self._error: str | None = None
        self._down_since: float | None = None
        self._latency_ms: float | None = None
        self._revision: str | None = None

    @property
    def source(self) -> DataSource:
        return self.db.source

    @property
    def healthy(self) -> bool:
        return self._healthy

    def due(self) -> bool:
        """Worth trying now: healthy, or down long enough to look again."""
        return self._healthy or time.monotonic() >= self._retry_at

    def reason(self) -> str:
        return self._error or "not reached yet"

    def state(self) -> PrimaryState:
        return PrimaryState(
            self._healthy, self._error, self._latency_ms, self._down_since, self._revision
        )

    async def run(self, unit: Unit[T], *, write: bool = False) -> T:
        started = time.perf_counter()
        try:
            if not self._schema_checked:
                await self._check_schema()
            result = await self.db.run(unit, write=write)
        except UnavailableError as error:
            self._failed(error.message)
            raise
        self._succeeded(started)
        return result

    async def probe(self) -> bool:
        """Reach the primary with a trivial query; True when it answered."""
        try:
            await self.run(ping)
        except UnavailableError:
            return False
        return True

    async def open(self) -> None:
        """Check the schema at start-up: an old schema refuses to start (``SchemaError``);
        an unreachable primary does not stop the server, the fallback layers serve."""
        try:
            current = await self.db.run(migrations.revision_of)
        except UnavailableError as error:
            self._failed(error.message)
            return
        self._revision = migrations.check_head(current)
        self._schema_checked = True
        self._healthy = True

    async def _check_schema(self) -> None:
        current = await self.db.run(migrations.revision_of)
        try:
            self._revision = migrations.check_head(current)
        except migrations.SchemaError as error:
            self._revision = current
            raise UnavailableError(error.message, layers={self.db.source: error.message}) from None
        self._schema_checked = True

    def _failed(self, reason: str) -> None:
        if self._healthy or self._down_since is None:
            self._down_since = time.time()
        self._healthy, self._error = False, reason
        self._schema_checked = False
        self._retry_at = time.monotonic() + self.retry_seconds

    def _succeeded(self, started: float) -> None:
        self._healthy, self._error, self._down_since = True, None, None
        self._latency_ms = (time.perf_counter() - started) * 1000
