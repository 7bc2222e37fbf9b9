"""Replaying queued writes into the primary, in order, each exactly once.

Each call is replayed in one primary transaction that first records its operation id: a
call whose effect committed before (its acknowledgement lost, or the replayer killed
before it could say so locally) is recognised and skipped. The call runs the same service
as it did offline, with the version it was based on; if that no longer matches, or the
call is no longer valid, nothing is applied: a sync conflict keeping both sides is
recorded instead, in the same transaction. Later queued calls on the same entity follow
a conflict (they were made on top of it), so a chain is never applied over a foreign
write.

A call that fails for a reason of its own (bad data, a constraint, a stored call that can
no longer be read) becomes a sync conflict carrying the error, and the rest replays. A
call that meets a slow primary (a statement or lock timeout, deadlocks on every attempt)
is tried again later, with backoff, while reads and writes are served locally; after
``_SLOW_ATTEMPTS`` such failures it too becomes a sync conflict carrying the error, so no
call can hold the queue for ever (``docs/adr/0016-down-slow-retry.md``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import integrity_conflict, is_transient
from worktrack.errors import SlowError, UnavailableError, WorktrackError, operation
from worktrack.fallback.storage import Fallback, ReplayReport
from worktrack.services.app import WRITES, App, WriteSpec, run_call
from worktrack.services.entities import current_state
from worktrack.store import queue as queue_store
from worktrack.store import sync as sync_store
from worktrack.store import tap
from worktrack.store.queue import QueuedCall
from worktrack.store.tap import Seen

_BATCH = 50
_SLOW_ATTEMPTS = 3  # replays of one call that met a slow primary before it is set aside
_BACKOFF_CAP_SECONDS = 60.0


def after_primary_commit(call: QueuedCall, outcome: str) -> None:
    """Called between the primary's COMMIT and the local acknowledgement: the window a
    crash test aims at (tests in a child process replace it with ``os._exit``)."""


@dataclass(frozen=True)
class _Replayed:
    outcome: str  # applied | conflict | already_applied | already_conflict
    seen: Seen


async def replay(app: App, fallback: Fallback, wait: float | None = None) -> ReplayReport:
    report = ReplayReport()
    async with fallback.replay_lock(wait) as acquired:
        if not acquired:
            report.busy = True
            return report
        try:
            await _replay_all(app, fallback, report)
        except UnavailableError as error:  # down, or slow and backing off
            report.error = error.message
            fallback.stuck = error
        else:
            fallback.stuck = None
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
            try:
                replayed = await _replay_one(app, fallback, call)
            except SlowError as error:
                if error.layer != fallback.primary.source:
                    raise  # the local queue was busy, not the call's fault: try again later
                replayed = await _after_slow(app, fallback, call, error)
            {
                "applied": report.applied,
                "conflict": report.conflicts,
            }.get(replayed.outcome, report.already_applied).append(call.op_id)


async def _after_slow(
    app: App, fallback: Fallback, call: QueuedCall, error: SlowError
) -> _Replayed:
    """Count the slow attempt; back off (the replay stops here, the queue keeps its order)
    or, after the last attempt, set the call aside as a sync conflict carrying the error."""
    attempts = call.attempts + 1
    if attempts >= _SLOW_ATTEMPTS:
        return await _replay_one(app, fallback, call, poisoned=error.payload())
    await fallback.cache.db.run(
        lambda conn: queue_store.failed(conn, call.op_id, error.message), write=True
    )
    backoff = fallback.primary.retry_seconds * 2 ** (attempts - 1)
    fallback.replay_after = time.monotonic() + min(backoff, _BACKOFF_CAP_SECONDS)
    raise error


def _decode(call: QueuedCall) -> tuple[WriteSpec[Any], dict[str, Any]] | dict[str, Any]:
    """The stored call's spec and arguments as its service takes them; or, when it cannot
    be read back (stored by another version of worktrack, say), the reason it cannot."""
    try:
        spec = WRITES[call.tool]
        return spec, spec.decode(call.args)
    except Exception as error:
        return _failure(error, f"the queued {call.tool} call could not be read back")


def _failure(error: BaseException, what: str) -> dict[str, Any]:
    """An unexpected error as a sync conflict's reason (the error as a call would show it,
    with what the driver said)."""
    words = str(getattr(error, "orig", None) or error).strip()
    details = {"exception": type(error).__name__}
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    if sqlstate:
        details["sqlstate"] = str(sqlstate)
    message = f"{what}: {words.splitlines()[0] if words else type(error).__name__}"
    return {"error": "InternalError", "message": message, "details": details}


async def _replay_one(
    app: App, fallback: Fallback, call: QueuedCall, poisoned: dict[str, Any] | None = None
) -> _Replayed:
    """Replay one call; with ``poisoned`` (the error it keeps failing with), record it as a
    sync conflict carrying that error instead of running it."""
    decoded = _decode(call)
    follows = await fallback.cache.db.run(lambda conn: queue_store.follows_conflict(conn, call))
    # As the caller it was made by, at the time it was made.
    replaying = replace(app.acting_as(call.queued_by), clock=lambda: call.queued_at)
    now = app.clock()

    async def unit(conn: AsyncConnection) -> _Replayed:
        with tap.collecting() as seen:
            earlier = await sync_store.record_op(conn, call.op_id, call.tool, now)
            if earlier is not None:
                return _Replayed(f"already_{earlier}", seen)
            if poisoned or isinstance(decoded, dict) or follows:
                unreadable = decoded if isinstance(decoded, dict) else None
                await _conflict(conn, call, now, poisoned or unreadable or _FOLLOWS)
                return _Replayed("conflict", seen)
            spec, args = decoded
            try:
                # Rows seen inside a savepoint that rolls back were never there.
                with tap.collecting() as inside:
                    async with conn.begin_nested():
                        await run_call(replaying, conn, spec, args, call.fingerprint)
            except WorktrackError as error:
                await _conflict(conn, call, now, error.payload())
                return _Replayed("conflict", seen)
            except Exception as error:
                if is_transient(error):  # the primary's trouble, not the call's: named,
                    raise  # retried or backed off by the database edge and the loop above
                # A stored row the call collides with (a create whose id exists), bad data:
                # an outcome to report, never a call that blocks the queue at every replay.
                conflict = integrity_conflict(error)
                reason = conflict.payload() if conflict else _failure(error, "replay failed")
                await _conflict(conn, call, now, reason)
                return _Replayed("conflict", seen)
            seen.merge(inside)
        return _Replayed("applied", seen)

    with operation(f"replay of {call.tool}"):
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
