"""Administration at the boundary: system health, sync conflicts and their resolution."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from worktrack.models.common import DataSource, Envelope, Shown, ShownJson, Timestamp

Resolution = Literal["discard", "reapply"]


class PrimaryHealth(BaseModel):
    kind: Literal["postgresql", "sqlite"]
    healthy: bool  # it answers now (slowly or not)
    latency_ms: float | None
    error: Shown | None  # why it is down, or the last slow statement while it is slow
    # up; slow: a statement or lock timeout or a deadlock within the last minute; down:
    # unreachable, the fallback layers serve (docs/adr/0016-down-slow-retry.md)
    state: Literal["up", "slow", "down"]


class CacheHealth(BaseModel):
    entries: int
    oldest_age_minutes: float | None
    queued_rows: int  # cached rows holding writes the primary has not confirmed yet


class StatusFileHealth(BaseModel):
    path: str
    exists: bool
    age_minutes: float | None


class SystemHealth(Envelope):
    serving_layer: DataSource | None
    primary: PrimaryHealth
    schema_revision: str | None
    cache: CacheHealth
    queued_writes: int
    sync_conflicts: int | None  # None: the primary, which holds them, is unreachable
    status_file: StatusFileHealth


class SyncConflict(BaseModel):
    id: str
    entity: str
    entity_id: str | None
    tool: str
    op_id: str
    queued_at: Timestamp
    queued_by: Shown
    attempted_change: ShownJson
    base_version: int | None
    current_version: int | None
    current: ShownJson | None
    reason: ShownJson
    detected_at: Timestamp


class SyncConflicts(Envelope):
    items: list[SyncConflict]


class Resolved(Envelope):
    resolved: bool
    resolution: Resolution
    result: ShownJson | None = None  # what reapply stored

    @classmethod
    def of(cls, resolution: Resolution, result: dict[str, Any] | None) -> Resolved:
        return cls(resolved=True, resolution=resolution, result=result)
