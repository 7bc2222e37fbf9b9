"""Replaying queued writes into the primary, in order, each exactly once.

Each call is replayed in one primary transaction that first records its operation id: a
call whose effect committed before (its acknowledgement lost, or the replayer killed
before it could say so locally) is recognised and skipped. The call runs the same service
as it did offline, with the version it was based on; if that no longer matches, or the
call is no longer valid, nothing is applied: a sync conflict keeping both sides is
recorded instead, in the same transaction. Later queued calls on the same entity follow
a conflict (they were made on top of it), so a chain is never applied over a foreign
write.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import integrity_conflict
from worktrack.errors import UnavailableError, WorktrackError
from worktrack.fallback.storage import Fallback, ReplayReport
from worktrack.services.app import WRITES, App, run_call
from worktrack.services.entities import current_state
from worktrack.store import queue as queue_store
from worktrack.store import sync as sync_store
from worktrack.store import tap
from worktrack.store.queue import QueuedCall
from worktrack.store.tap import Seen

_BATCH = 50


def after_primary_commit(call: QueuedCall, outcome: str) -> None:
    """Called between the primary's COMMIT and the local acknowledgement: the window a
    crash test aims at (tests in a child process replace it with ``os._exit``)."""


@dataclass(frozen=True)
class _Replayed:
    outcome: str  # applied | conflict | already_applied | already_conflict
    seen: Seen


async def replay(app: App, fallback: Fallback) -> ReplayReport:
    report = ReplayReport()
    async with fallback.replay_lock() as acquired:
        if not acquired:
            report.busy = True
            return report
        try:
            await _replay_all(app, fallback, report)
        except UnavailableError as error:
            report.error = error.message
        report.remaining = await fallback.queued()
        if report.remaining == 0:
            await fallback.cache.db.run(queue_store.clear_conflicted, write=True)
            # The rows the queued writes changed are taken from the primary again.
            fallback.refresh_soon()
    if report.applied or report.conflicts:
        # The file showed the queued writes; now it shows what the primary holds.
        await fallback.rewrite_status_file(app)
    return report


async def _replay_all(app: App, fallback: Fallback, report: ReplayReport) -> None:
    while batch := await fallback.cache.db.run(lambda conn: queue_store.pending(conn, _BATCH)):
        for call in batch:
            replayed = await _replay_one(app, fallback, call)
            {
                "applied": report.applied,
                "conflict": report.conflicts,
            }.get(replayed.outcome, report.already_applied).append(call.op_id)


async def _replay_one(app: App, fallback: Fallback, call: QueuedCall) -> _Replayed:
    spec = WRITES[call.tool]
    args = spec.decode(call.args)
    follows = await fallback.cache.db.run(lambda conn: queue_store.follows_conflict(conn, call))
    # As the caller it was made by, at the time it was made.
    replaying = replace(app.acting_as(call.queued_by), clock=lambda: call.queued_at)
    now = app.clock()

    async def unit(conn: AsyncConnection) -> _Replayed:
        with tap.collecting() as seen:
            earlier = await sync_store.record_op(conn, call.op_id, call.tool, now)
            if earlier is not None:
                return _Replayed(f"already_{earlier}", seen)
            if follows:
                await _conflict(conn, call, now, _FOLLOWS)
                return _Replayed("conflict", seen)
            try:
                # Rows seen inside a savepoint that rolls back were never there.
                with tap.collecting() as inside:
                    async with conn.begin_nested():
                        await run_call(replaying, conn, spec, args, call.fingerprint)
            except WorktrackError as error:
                await _conflict(conn, call, now, error.payload())
                return _Replayed("conflict", seen)
            except Exception as error:
                # A stored row the call collides with (a create whose id exists): an outcome
                # to report, never a call that blocks the queue at every replay.
                conflict = integrity_conflict(error)
                if conflict is None:
                    raise
                await _conflict(conn, call, now, conflict.payload())
                return _Replayed("conflict", seen)
            seen.merge(inside)
        return _Replayed("applied", seen)

    replayed = await fallback.primary.run(unit, write=True)
    after_primary_commit(call, replayed.outcome)
    await fallback.cache.db.run(lambda conn: _settle(conn, call, replayed, now), write=True)
    return replayed


_FOLLOWS = {
    "error": "ChainedConflict",
    "message": "an earlier queued change to this entity became a sync conflict; this one was "
    "made on top of it, so it was not applied either",
    "details": {},
}


async def _conflict(
    conn: AsyncConnection, call: QueuedCall, now: datetime, reason: dict[str, Any]
) -> None:
    current = await current_state(conn, call.entity, call.entity_id)
    values = {
        "id": str(uuid4()),
        "op_id": call.op_id,
        "tool": call.tool,
        "entity": call.entity,
        "entity_id": call.entity_id,
        "queued_at": call.queued_at,
        "queued_by": call.queued_by,
        "attempted_change": call.args,
        "base_version": call.base_version,
        "current_version": current.get("version") if current else None,
        "current": current,
        "reason": reason,
        "detected_at": now,
    }
    await sync_store.add_conflict(conn, values)


async def _settle(
    conn: AsyncConnection, call: QueuedCall, replayed: _Replayed, now: datetime
) -> None:
    """Acknowledge the call locally. The rows it changed in the replica are taken from the
    primary by the first refresh once the queue is empty (``replica_local``)."""
    if replayed.outcome in ("conflict", "already_conflict"):
        await queue_store.conflicted(conn, call.op_id)
    else:
        await queue_store.done(conn, call.op_id)
