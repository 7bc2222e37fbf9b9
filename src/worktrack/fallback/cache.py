"""The local cache layer: a replica of the primary in a SQLite file of the same schema
(``fallback/replica.py`` keeps it up to date), which also holds the writes queued while the
primary is down.

It answers any read while it is younger than the TTL, counted from its last successful
refresh: a list, ``ready_work`` or a report from it is what the primary would have said
then, plus the writes queued on this machine. Before its first copy it answers only reads
of the rows writes queued here made.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Database, DataSource, Unit
from worktrack.errors import NotFoundError
from worktrack.fallback.layers import Answer, Declined
from worktrack.models.common import Envelope
from worktrack.store import replica as replica_store
from worktrack.store import tap
from worktrack.store.replica import ReplicaState

R = TypeVar("R", bound=Envelope)
NEVER_COPIED = "the local replica has not been copied from the primary yet"


class Cache:
    name: DataSource = "sqlite_cache"

    def __init__(self, db: Database, queue_db: Database, ttl: timedelta) -> None:
        # Two engines on one file. Refreshes and reads may lose the last refresh to an OS
        # crash (synchronous=NORMAL: the next refresh redoes it); the queue holds the only
        # copy of the writes made during an outage, so its commits are synced
        # (synchronous=FULL), and its connections remember the rows those writes change.
        self.db = db
        self.queue_db = queue_db
        self.ttl = ttl

    async def dispose(self) -> None:
        await self.db.dispose()
        await self.queue_db.dispose()

    async def answer(self, unit: Unit[R], now: datetime) -> Answer[R]:
        async def read(conn: AsyncConnection) -> Answer[R]:
            state = await replica_store.state(conn)
            if state is None:
                return await _from_queued_writes(conn, unit)
            self.fresh(state, now)
            queued = await replica_store.pending_writes(conn)
            note = "the local replica" + (", with writes queued on this machine" if queued else "")
            return Answer(await unit(conn), state.refreshed_at, note)

        try:
            return await self.db.run(read)
        except NotFoundError as error:
            # The replica holds what the primary held at its last refresh; a row it lacks
            # may be newer than that, so "not found" is not this layer's to say.
            raise Declined(f"not in the local replica ({error.message})") from None

    def fresh(self, state: ReplicaState | None, now: datetime) -> ReplicaState:
        """``state`` if the replica may be served now; else Declined, saying why."""
        if state is None:
            raise Declined(NEVER_COPIED)
        if now - state.refreshed_at > self.ttl:
            age = int((now - state.refreshed_at).total_seconds() // 60)
            limit = int(self.ttl.total_seconds() // 60)
            raise Declined(f"the local replica is {age} minutes old, past the {limit}-minute limit")
        return state


async def _from_queued_writes(conn: AsyncConnection, unit: Unit[R]) -> Answer[R]:
    """A replica never copied (a server first started during an outage) knows only the
    writes queued here: it answers a read that shows those rows and nothing else."""
    with tap.collecting() as seen:
        result = await unit(conn)
    local = await replica_store.local_keys(conn)
    shown = seen.shown()
    if not shown or any(key not in local.get(table, ()) for table, key in shown):
        raise Declined(NEVER_COPIED)
    return Answer(result, None, "the writes queued on this machine (" + NEVER_COPIED + ")")
