"""Where calls go when Postgres is the primary (contract §5).

While the primary answers, every call goes to it, and the local replica is kept up to date
with it in the background. When it does not, reads fall through the layers in order (the
replica, git history, the status file) and the first that can answer does; writes are
committed to the durable queue in the replica's file, shown in the status file, and
replayed in order when the primary is back. Every write to the primary records its
operation id in the same transaction, so a write whose COMMIT acknowledgement was lost,
queued and replayed later, is recognised and never applied twice.

The queue is shared by every process using the same WORKTRACK_HOME, and it is the queue
itself, not a flag of this process, that decides whether a call may go to the primary: a
call made here never overtakes a write another process queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from filelock import FileLock
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Unit
from worktrack.errors import NotFoundError, SlowError, UnavailableError, VersionConflictError
from worktrack.fallback import locks, statusfile
from worktrack.fallback.cache import Cache
from worktrack.fallback.layers import Answer, Declined, Layer, Reader
from worktrack.fallback.primary import Primary
from worktrack.fallback.replica import Refreshed, Replica
from worktrack.models.common import Envelope, stamp
from worktrack.report import files
from worktrack.services.app import App, WriteSpec, apply, call_fingerprint, run_call
from worktrack.store import feed
from worktrack.store import queue as queue_store
from worktrack.store import replica as replica_store
from worktrack.store import sync as sync_store
from worktrack.store.queue import QueuedCall

R = TypeVar("R", bound=Envelope)
log = logging.getLogger(__name__)
Replayer = Callable[[App, "Fallback", float | None], Awaitable["ReplayReport"]]
# A call that finds another process replaying waits this long for it, then is served
# locally behind the queue: no call may hang for long (contract: at most 10 s).
CALL_REPLAY_WAIT_SECONDS = 2.0
_ACTOR_FIELDS = ("created_by", "updated_by", "claimed_by")
# A write to the primary asks for a refresh, so this machine's own changes reach the
# replica within moments; refreshes so asked come at most this often.
_KICKED_REFRESH_SPACING = 1.0
_PRUNE_EVERY = timedelta(hours=1)
_KEEP_CHANGES = timedelta(days=1)  # a replica refreshed less often than this copies again


@dataclass
class ReplayReport:
    applied: list[str] = field(default_factory=list)  # op ids
    conflicts: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    remaining: int = 0
    error: str | None = None
    busy: bool = False  # another process was replaying; it will do the work
    replica: Refreshed | None = None  # the refresh that followed (``worktrack sync``)


class Fallback:
    def __init__(
        self,
        primary: Primary,
        cache: Cache,
        readers: Sequence[Reader],
        status_path: Path | None,
        replay: Replayer,
        replay_lock: Callable[[float | None], AbstractAsyncContextManager[bool]],
        replica: Replica,
        queue: queue_store.Watch,
    ) -> None:
        self.primary = primary
        self.cache = cache
        self.readers = list(readers)
        self.layers: list[Layer] = [cache, *readers]
        self.status_path = status_path
        self.replica = replica
        self.queue = queue  # writes wait in it: this process's, or another's
        # Why this process's last replay stopped short (None: it finished), and when an
        # automatic replay may try again after a slow primary (time.monotonic()).
        self.stuck: UnavailableError | None = None
        self.replay_after = 0.0
        self._replay = replay
        self.replay_lock = replay_lock
        self._wake = asyncio.Event()
        self._pruned_at: float | None = None

    # -- reads ------------------------------------------------------------------------------

    async def read(self, app: App, unit: Unit[R]) -> R:
        waiting = await self._catch_up(app)
        failures: dict[str, str] = {}
        slow: SlowError | None = None
        if waiting is None and self.primary.due():
            try:
                result = await self.primary.run(unit)
            except SlowError as error:  # up but slow: the local layers answer instead
                failures[self.primary.db.source], slow = error.reason, error
            except UnavailableError as error:
                failures[self.primary.db.source] = error.message
            else:
                return stamp(result, self.primary.db.source)
        else:
            failures[self.primary.db.source] = waiting or self.primary.reason()
            slow = self.stuck if isinstance(self.stuck, SlowError) else None
        return await self._fall_through(app, unit, failures, slow)

    def held(self) -> bool:
        """Writes queued here wait for a replay that stopped short (the primary was slow or
        went away): calls are served locally meanwhile, so none overtakes them."""
        return self.stuck is not None

    def _primary_is(self, slow: bool) -> str:
        return f"{self.primary.db.source} is {'slow' if slow else 'unavailable'}"

    async def _fall_through(
        self, app: App, unit: Unit[R], failures: dict[str, str], slow: SlowError | None
    ) -> R:
        now = app.clock()
        for layer in self.layers:
            try:
                answer = await layer.answer(unit, now)
            except (Declined, UnavailableError) as refusal:
                failures[layer.name] = getattr(refusal, "reason", None) or str(refusal)
                continue
            warnings = self._warnings(failures, answer, now, slow)
            return stamp(answer.result, layer.name, warnings)
        tried = "; ".join(f"{name}: {why}" for name, why in failures.items())
        state = {"state": "slow", "cause": slow.cause} if slow else {"state": "down"}
        raise UnavailableError(f"no storage layer could answer ({tried})", layers=failures, **state)

    def _warnings(
        self, failures: dict[str, str], answer: Answer[Any], now: datetime, slow: SlowError | None
    ) -> list[str]:
        primary = self.primary.db.source
        why = failures.get(primary, self.primary.reason())
        found = [f"{self._primary_is(slow is not None)} ({why})"]
        found += [
            f"{name} could not answer: {why}" for name, why in failures.items() if name != primary
        ]
        age = "" if answer.as_of is None else f", as of {_age(now, answer.as_of)}"
        return [*found, f"served from {answer.note}{age}"]

    # -- writes -----------------------------------------------------------------------------

    async def write(self, app: App, spec: WriteSpec[R], args: dict[str, Any]) -> R:
        fingerprint = call_fingerprint(spec.tool, args)
        waiting = await self._catch_up(app)
        op_id = str(uuid4())
        reason = waiting or self.primary.reason()
        if waiting is None and self.primary.due():
            try:
                return await self._on_primary(app, spec, args, fingerprint, op_id)
            except SlowError:
                raise  # the primary is up: a slow call is the caller's answer, not queued
            except UnavailableError as error:
                reason = error.message
        if not spec.queueable:
            raise UnavailableError(
                f"{spec.tool} needs the primary database, which is unavailable ({reason})",
                layers={self.primary.db.source: reason},
            )
        return await self._queue(app, spec, args, fingerprint, op_id, reason)

    async def _on_primary(
        self, app: App, spec: WriteSpec[R], args: dict[str, Any], fingerprint: str, op_id: str
    ) -> R:
        async def record(conn: AsyncConnection) -> None:
            await sync_store.record_op(conn, op_id, spec.tool, app.clock())

        result = await apply(app, self.primary, spec, args, fingerprint=fingerprint, before=record)
        self._wake.set()  # the replica takes the change at its next refresh, soon
        return result

    async def _queue(
        self,
        app: App,
        spec: WriteSpec[R],
        args: dict[str, Any],
        fingerprint: str,
        op_id: str,
        reason: str,
    ) -> R:
        queued_at = app.clock()

        async def unit(conn: AsyncConnection) -> R:
            try:
                outcome = await run_call(app, conn, spec, args, fingerprint)
            except NotFoundError as error:
                raise self._cannot_check(reason, error.message) from None
            except VersionConflictError as error:
                raise _behind(error, reason) or error from None
            if not outcome.repeated:
                call = queued_call(spec, args, outcome.result, op_id, fingerprint, queued_at, app)
                await queue_store.push(conn, call)
                await replica_store.count_local_write(conn)
            return outcome.result

        result = await self.cache.queue_db.run(unit, write=True)
        # Durably queued: from here on nothing may turn the call into a failure (a caller
        # told "failed" retries, and the retry would be queued a second time).
        slow = isinstance(self.stuck, SlowError)
        warnings = [
            f"{self._primary_is(slow)} ({reason}); this change is queued on this machine "
            "and will be applied when it is back"
        ]
        warnings += await self._show_in_status_file(app)
        queued = stamp(result, self.cache.name, warnings)
        return queued.model_copy(update={"queued": True})

    def _cannot_check(self, reason: str, missing: str) -> UnavailableError:
        return UnavailableError(
            f"the primary is unavailable ({reason}) and the local replica does not hold what "
            f"this change needs ({missing}); try again when it is back",
            layers={self.primary.db.source: reason, self.cache.name: missing},
        )

    async def _show_in_status_file(self, app: App) -> list[str]:
        """Show the queued writes in the status file; warnings when that fails (the file
        is brought up to date by the next queued write, or after the replay)."""
        if self.status_path is None:
            return ["the status file was not updated: it lies outside the repository"]
        try:
            lock = files.lock_path(self.status_path, app.settings.home_dir)
            warnings = await statusfile.reflect(
                self.cache.db, self.status_path, app.clock(), lock=lock
            )
        except Exception as error:  # a lock path that is a folder, a folder that is a file
            warnings = [f"the status file was not updated: {_why(error)}"]
        await self._mark_status_file(stale=bool(warnings))
        return warnings

    async def _mark_status_file(self, *, stale: bool) -> None:
        try:
            await self.cache.db.run(
                lambda conn: replica_store.mark_status_file(conn, stale=stale), write=True
            )
        except Exception as error:  # bookkeeping only: it never fails a queued write
            log.warning("could not record whether the status file is current: %s", _why(error))

    # -- getting back in step -----------------------------------------------------------------

    async def _catch_up(self, app: App) -> str | None:
        """None when a call may go to the primary now. Writes queued by any process sharing
        this queue are replayed first whenever the primary may be back, so that calls made
        now never overtake calls made during the outage; while some remain, the call is
        served (a read) or queued (a write) locally, behind them."""
        if not await self.queue.pending():
            self.stuck = None  # whoever replayed them, nothing waits any more
            return None
        if self.primary.due() and self._replay_due():
            report = await self.sync(app, wait=CALL_REPLAY_WAIT_SECONDS)
            if report.remaining == 0 and not report.busy:
                return None
        if self.stuck is not None:
            stuck = self.stuck
            why = stuck.reason if isinstance(stuck, SlowError) else stuck.message
            return f"queued writes wait for a replay that stopped ({why})"
        return "writes queued on this machine are not replayed yet"

    def _replay_due(self) -> bool:
        """Not while backing off after a replay met a slow primary (``worktrack sync``
        replays whenever asked)."""
        return time.monotonic() >= self.replay_after

    async def sync(self, app: App, wait: float | None = None) -> ReplayReport:
        """Replay what is queued; ``wait`` bounds the wait for a replay already running
        elsewhere (None: the lock's own patience, for background and ``worktrack sync``)."""
        return await self._replay(app, self, wait)

    async def sync_all(self, app: App, wait: float) -> ReplayReport:
        """Replay what is queued, then bring the replica (and a stale status file) up to
        date: ``worktrack sync``."""
        report = await self.sync(app)
        if report.remaining or report.busy:
            return report
        try:
            report.replica = await self.replica.refresh(wait=wait)
        except UnavailableError as error:
            report.replica = Refreshed("skipped", reason=error.message)
            return report
        await self._status_file_after_outage(app)
        return report

    async def queued(self) -> int:
        return await self.cache.db.run(queue_store.count)

    async def maintain(self, app: App, interval: float) -> None:
        """Look for the primary and replay what is queued, every ``interval`` seconds."""
        while True:
            await asyncio.sleep(interval)
            try:
                pending = await self.queue.pending()
                looking = pending or not self.primary.healthy
                found = looking and await self.primary.probe()
                if found and pending and self._replay_due():
                    await self.sync(app)
            except Exception:  # the loop must outlive any one failure
                log.exception("background sync failed")

    def refresh_soon(self) -> None:
        self._wake.set()

    async def keep_replica(self, app: App, interval: float) -> None:
        """Refresh the replica at start, every ``interval`` seconds, and soon after a write
        to the primary; prune the primary's change feed now and then."""
        while True:
            try:
                await self._keep_once(app)
            except Exception:  # the loop must outlive any one failure
                log.exception("replica refresh failed")
            await asyncio.sleep(_KICKED_REFRESH_SPACING)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), max(0.0, interval - _KICKED_REFRESH_SPACING)
                )
            self._wake.clear()

    async def _keep_once(self, app: App) -> None:
        if not self.primary.due() or await self.queue.pending():
            return  # replayed first (``maintain``), refreshed after
        try:
            done = await self.replica.refresh()
        except UnavailableError as error:
            log.info("replica not refreshed: %s", error.message)
            return
        if done.kind != "skipped":
            await self._status_file_after_outage(app)
            await self._prune()

    async def _prune(self) -> None:
        now = time.monotonic()
        if self._pruned_at is not None and now - self._pruned_at < _PRUNE_EVERY.total_seconds():
            return
        await self.primary.run(lambda conn: feed.prune(conn, _KEEP_CHANGES), write=True)
        self._pruned_at = now

    async def rewrite_status_file(self, app: App) -> None:
        """After a replay the file shows what the primary holds (if there is a file)."""
        if self.status_path is None or not self.status_path.exists():
            return
        await self._rewrite_status_file(app)

    async def _status_file_after_outage(self, app: App) -> None:
        """A queued write the status file could not show: now it shows the primary's state
        (created if it had to be)."""
        state = await self.cache.db.run(replica_store.state)
        if self.status_path is not None and state is not None and state.status_file_stale:
            await self._rewrite_status_file(app)

    async def _rewrite_status_file(self, app: App) -> None:
        assert self.status_path is not None
        try:
            markdown = await self.primary.run(
                lambda conn: statusfile.report_text(conn, app.clock())
            )
            lock = files.lock_path(self.status_path, app.settings.home_dir)
            await statusfile.write_report(self.status_path, markdown, lock=lock)
        except Exception as error:
            log.warning("status file not rewritten after the outage: %s", _why(error))
            return
        await self._mark_status_file(stale=False)

    async def close(self) -> None:
        try:
            await self.queue.close()
        finally:
            for reader in self.readers:
                await reader.close()


def queued_call(
    spec: WriteSpec[Any],
    args: dict[str, Any],
    result: Envelope,
    op_id: str,
    fingerprint: str,
    queued_at: datetime,
    app: App,
) -> QueuedCall:
    """The call as the queue keeps it: its arguments plus what the local run decided (the id
    a create chose, the full id a prefix named), so its replay does the same thing."""
    recorded = {k: v for k, v in args.items() if v is not None}
    recorded |= {name: getattr(result, name) for name in spec.keep}
    actor = next((args[name] for name in _ACTOR_FIELDS if args.get(name)), None)
    return QueuedCall(
        seq=0,
        op_id=op_id,
        tool=spec.tool,
        args=to_jsonable_python(recorded),
        fingerprint=fingerprint,
        entity=spec.entity,
        entity_id=entity_id(spec, recorded, result),
        base_version=args.get("version"),
        queued_at=queued_at,
        queued_by=app.who(actor),
    )


def entity_id(spec: WriteSpec[Any], args: dict[str, Any], result: Envelope) -> str | None:
    found = getattr(result, "id", None)
    if found is not None:
        return str(found)
    if spec.entity == "dependency":
        return "|".join(str(args.get(k)) for k in ("source_id", "target_id", "dependency_type"))
    return None


def _behind(error: VersionConflictError, reason: str) -> UnavailableError | None:
    """A version newer than the replica's is not a conflict: the replica has not caught up
    with a change the caller saw on the primary (it cannot be checked here)."""
    expected = error.details.get("expected_version")
    if not isinstance(expected, int) or expected <= error.current_version:
        return None
    return UnavailableError(
        f"the primary is unavailable ({reason}) and the local replica holds version "
        f"{error.current_version}, older than the version {expected} you sent; try again when "
        "it is back",
        layers={"postgresql": reason, "sqlite_cache": "the replica is behind this change"},
    )


def _why(error: BaseException) -> str:
    if isinstance(error, UnavailableError):
        return error.message
    return str(error) or type(error).__name__


def _age(now: datetime, then: datetime) -> str:
    minutes = max(0, int((now - then).total_seconds() // 60))
    stamp_text = then.isoformat(timespec="seconds")
    return f"{stamp_text} ({minutes} minutes old)"


class ReplayLock:
    """One replayer at a time: across this process's tasks and across local processes
    sharing the queue (a lock file next to it)."""

    def __init__(self, path: Path, wait_seconds: float) -> None:
        self._local = asyncio.Lock()
        self._file = FileLock(path, thread_local=False)
        self._wait = wait_seconds

    @asynccontextmanager
    async def __call__(self, wait: float | None = None) -> AsyncIterator[bool]:
        patience = self._wait if wait is None else wait
        try:
            await asyncio.wait_for(self._local.acquire(), patience)
        except TimeoutError:
            yield False
            return
        try:
            if not await locks.acquire(self._file, patience):
                yield False
                return
            try:
                yield True
            finally:
                await asyncio.to_thread(self._file.release)
        finally:
            self._local.release()
