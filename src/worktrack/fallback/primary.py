"""The shared primary (Postgres) and what this process knows of its health.

Its state is ``up``, ``slow`` or ``down`` (``docs/adr/0016-down-slow-retry.md``). After it
was found down it is not tried again for ``retry_seconds``: while it is down, calls go
straight to the fallback layers instead of each paying the connect timeout. A slow
statement (``SlowError``) does not make it down: it stays in use, and its state reads
``slow`` until ``SLOW_SECONDS`` pass without another. The schema is checked whenever the
primary is reached after being down (or never reached), so a server started during an
outage never writes to an old schema.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, TypeVar

from worktrack import migrations
from worktrack.db import Database, DataSource, Unit
from worktrack.errors import SlowError, UnavailableError
from worktrack.store.sql import ping

T = TypeVar("T")
State = Literal["up", "slow", "down"]
# How long one slow statement colours the primary's state after it happened.
SLOW_SECONDS = 60.0


@dataclass
class PrimaryState:
    healthy: bool
    error: str | None
    latency_ms: float | None
    down_since: float | None  # time.time() of the first failure of this outage
    schema_revision: str | None
    state: State = "up"


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
        self._slow: SlowError | None = None  # the last slow statement
        self._slow_at = 0.0  # time.monotonic() of it

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

    def slow(self) -> SlowError | None:
        """The last slow statement, if it was recent enough to speak of the state now."""
        if self._slow is not None and time.monotonic() - self._slow_at < SLOW_SECONDS:
            return self._slow
        return None

    def state(self) -> PrimaryState:
        slow = self.slow()
        state: State = "down" if not self._healthy else "slow" if slow else "up"
        error = self._error if not self._healthy else slow.message if slow else None
        return PrimaryState(
            self._healthy, error, self._latency_ms, self._down_since, self._revision, state
        )

    async def run(self, unit: Unit[T], *, write: bool = False) -> T:
        started = time.perf_counter()
        try:
            if not self._schema_checked:
                await self._check_schema()
            result = await self.db.run(unit, write=write)
        except SlowError as error:  # up, but busy: no retry window, nothing falls over
            self._slow, self._slow_at = error, time.monotonic()
            raise
        except UnavailableError as error:
            self._failed(error.message)
            raise
        self._succeeded(started)
        return result

    async def probe(self) -> bool:
        """Reach the primary with a trivial query; True when it answered (slowly or not)."""
        try:
            await self.run(ping)
        except SlowError:
            return True
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
