"""Administration of the outage machinery: system health, sync conflicts and their
resolution, and replaying the write queue now (``worktrack sync``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import migrations
from worktrack.errors import ConflictError, NotFoundError, UnavailableError
from worktrack.fallback.layers import Declined
from worktrack.fallback.storage import Fallback, ReplayReport
from worktrack.models.common import DataSource, entity_json, stamp
from worktrack.models.sync import (
    CacheHealth,
    PrimaryHealth,
    Resolved,
    StatusFileHealth,
    SyncConflict,
    SyncConflicts,
    SystemHealth,
)
from worktrack.services.app import WRITES, App, call_fingerprint, reads, run_call, writes
from worktrack.services.entities import current_state
from worktrack.store import replica as replica_store
from worktrack.store import sync as store
from worktrack.store.replica import ReplicaState
from worktrack.store.sql import ping, resolve_id
from worktrack.tables import sync_conflicts as sync_conflicts_table

ENTITY = "sync_conflict"
_REFRESH_WAIT_SECONDS = 60.0  # for a refresh another process is making (a first copy)


@reads
async def list_sync_conflicts(app: App, conn: AsyncConnection) -> SyncConflicts:
    rows = await store.open_conflicts(conn)
    return SyncConflicts(items=[SyncConflict.model_validate(row) for row in rows])


@writes("resolve_sync_conflict", Resolved, entity=ENTITY, queueable=False)
async def resolve_sync_conflict(
    app: App,
    conn: AsyncConnection,
    *,
    id: str,
    resolution: str,
    resolved_by: str | None = None,
    request_id: str | None = None,
) -> Resolved:
    conflict_id = await resolve_id(conn, id, ENTITY, sync_conflicts_table)
    conflict = await store.fetch_conflict(conn, conflict_id)
    if conflict is None:
        raise NotFoundError(ENTITY, id=conflict_id)
    if conflict["resolved_at"] is not None:
        raise ConflictError(
            f"sync conflict {conflict_id} was already resolved ({conflict['resolution']})",
            resolution=conflict["resolution"],
            resolved_by=conflict["resolved_by"],
        )
    result = await _reapply(app, conn, conflict) if resolution == "reapply" else None
    await store.resolve(conn, conflict_id, resolution, app.clock(), app.who(resolved_by))
    return Resolved.of("reapply" if resolution == "reapply" else "discard", result)


async def _reapply(app: App, conn: AsyncConnection, conflict: dict[str, Any]) -> dict[str, Any]:
    """The queued change applied on top of the entity as it is now: its version is the
    current one, everything else as the caller asked then."""
    spec = WRITES[conflict["tool"]]
    args = spec.decode(conflict["attempted_change"])
    args.pop("request_id", None)  # the retry key of a call that never took effect
    if "version" in args:
        current = await current_state(conn, conflict["entity"], conflict["entity_id"])
        if current is None:
            raise NotFoundError(conflict["entity"], id=conflict["entity_id"])
        args["version"] = current["version"]
    outcome = await run_call(app, conn, spec, args, call_fingerprint(spec.tool, args))
    return entity_json(outcome.result)


async def get_system_health(app: App) -> SystemHealth:
    if isinstance(app.storage, Fallback):
        return await _fallback_health(app, app.storage)
    return await _embedded_health(app)


async def _embedded_health(app: App) -> SystemHealth:
    started = time.perf_counter()

    async def look(conn: AsyncConnection) -> tuple[str | None, int]:
        await ping(conn)
        return await migrations.revision_of(conn), await store.count_open(conn)

    revision, conflicts = await app.db.run(look)
    latency = (time.perf_counter() - started) * 1000
    return SystemHealth(
        serving_layer=app.db.source,
        primary=PrimaryHealth(
            kind="sqlite", healthy=True, latency_ms=latency, error=None, state="up"
        ),
        schema_revision=revision,
        cache=CacheHealth(entries=0, oldest_age_minutes=None, queued_rows=0),
        queued_writes=0,
        sync_conflicts=conflicts,
        status_file=await _status_file(app),
        data_source=app.db.source,
        warnings=[],
    )


async def _fallback_health(app: App, fallback: Fallback) -> SystemHealth:
    primary = fallback.primary
    reached = await primary.probe()
    conflicts = await _conflicts(fallback) if reached else None
    state = primary.state()
    stats = await fallback.cache.db.run(_replica_stats)
    now = app.clock()
    serving = reached and not fallback.held()
    health = SystemHealth(
        serving_layer=await _serving(app, fallback, serving, stats, now),
        primary=PrimaryHealth(
            kind="postgresql",
            healthy=reached,
            latency_ms=state.latency_ms,
            error=state.error,
            state=state.state,
        ),
        schema_revision=state.schema_revision,
        cache=CacheHealth(
            entries=stats.entries,
            oldest_age_minutes=_minutes(now, stats.state.refreshed_at if stats.state else None),
            queued_rows=stats.local,
        ),
        queued_writes=await fallback.queued(),
        sync_conflicts=conflicts,
        status_file=await _status_file(app),
    )
    warnings = [] if reached else [f"postgresql is unavailable ({state.error})"]
    if state.state == "slow" and state.error:
        warnings.append(state.error)
    if fallback.held() and fallback.stuck is not None:
        warnings.append(
            f"{health.queued_writes} queued writes wait for their replay, which stopped "
            f"({fallback.stuck.message}); calls are served locally until it completes"
        )
    return stamp(health, "postgresql" if reached else "sqlite_cache", warnings)


async def _conflicts(fallback: Fallback) -> int | None:
    """Open sync conflicts, which the primary holds; None when it cannot say now."""
    try:
        return await fallback.primary.run(store.count_open)
    except UnavailableError:  # slow, or gone since the probe
        return None


@dataclass(frozen=True)
class _ReplicaStats:
    entries: int  # rows of every replicated table
    state: ReplicaState | None
    local: int  # rows changed by writes queued here


async def _replica_stats(conn: AsyncConnection) -> _ReplicaStats:
    return _ReplicaStats(
        await replica_store.row_count(conn),
        await replica_store.state(conn),
        sum(map(len, (await replica_store.local_keys(conn)).values())),
    )


async def _serving(
    app: App, fallback: Fallback, reached: bool, stats: _ReplicaStats, now: datetime
) -> DataSource | None:
    """The layer that would answer a read now, as far as can be told without one."""
    if reached:
        return "postgresql"
    if stats.local and stats.state is None:
        return "sqlite_cache"  # it answers reads of the writes queued here
    try:
        fallback.cache.fresh(stats.state, now)
    except Declined:
        pass
    else:
        return "sqlite_cache"
    if await asyncio.to_thread(app.settings.status_path.exists):
        return "markdown_file"
    return None


async def _status_file(app: App) -> StatusFileHealth:
    path = app.settings.status_path

    def look() -> float | None:
        try:
            return path.stat().st_mtime
        except (FileNotFoundError, NotADirectoryError):  # no file (its folder may be a file)
            return None

    modified = await asyncio.to_thread(look)
    age = None if modified is None else max(0.0, (time.time() - modified) / 60)
    return StatusFileHealth(path=str(path), exists=modified is not None, age_minutes=age)


def _minutes(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds() / 60, 2)


async def sync_now(app: App) -> ReplayReport:
    """Replay the write queue now, then bring the local replica up to date (``worktrack
    sync``)."""
    if not isinstance(app.storage, Fallback):
        raise UnavailableError(
            "nothing to sync: the embedded database has no write queue",
            layers={app.db.source: "no fallback layers"},
        )
    return await app.storage.sync_all(app, _REFRESH_WAIT_SECONDS)
