"""Where calls go when Postgres is the primary (contract §5).

While the primary answers, every call goes to it, and what it shows fills the local cache.
When it does not, reads fall through the layers in order (local cache, git history, the
status file) and the first that can answer does; writes are committed to the durable
queue in the local cache, shown in the status file, and replayed in order when the
primary is back. Every write to the primary records its operation id in the same
transaction, so a write whose COMMIT acknowledgement was lost, queued and replayed later,
is recognised and never applied twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from filelock import FileLock, Timeout
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Unit
from worktrack.errors import NotFoundError, SlowError, UnavailableError
from worktrack.fallback import statusfile
from worktrack.fallback.cache import Cache
from worktrack.fallback.layers import Answer, Declined, Layer, Reader
from worktrack.fallback.primary import Primary
from worktrack.models.common import Envelope, stamp
from worktrack.report import files
from worktrack.services.app import App, WriteSpec, apply, call_fingerprint, run_call
from worktrack.store import cache as cache_store
from worktrack.store import queue as queue_store
from worktrack.store import sync as sync_store
from worktrack.store import tap
from worktrack.store.queue import QueuedCall

R = TypeVar("R", bound=Envelope)
log = logging.getLogger(__name__)
Replayer = Callable[[App, "Fallback"], Awaitable["ReplayReport"]]
_ACTOR_FIELDS = ("created_by", "updated_by", "claimed_by")


@dataclass
class ReplayReport:
    applied: list[str] = field(default_factory=list)  # op ids
    conflicts: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    remaining: int = 0
    error: str | None = None
    busy: bool = False  # another process was replaying; it will do the work


class Fallback:
    def __init__(
        self,
        primary: Primary,
        cache: Cache,
        readers: Sequence[Reader],
        status_path: Path | None,
        replay: Replayer,
        replay_lock: Callable[[], AbstractAsyncContextManager[bool]],
    ) -> None:
        self.primary = primary
        self.cache = cache
        self.readers = list(readers)
        self.layers: list[Layer] = [cache, *readers]
        self.status_path = status_path
        self.pending = False  # writes wait in the queue (ours, or another local process's)
        # Why this process's last replay stopped short (None: it finished), and when an
        # automatic replay may try again after a slow primary (time.monotonic()).
        self.stuck: UnavailableError | None = None
        self.replay_after = 0.0
        self._replay = replay
        self.replay_lock = replay_lock

    # -- reads ------------------------------------------------------------------------------

    async def read(self, app: App, unit: Unit[R]) -> R:
        await self._catch_up(app)
        failures: dict[str, str] = {}
        slow: SlowError | None = None
        if self.primary.due() and not self.held():
            try:
                with tap.collecting() as seen:
                    result = await self.primary.run(unit)
            except SlowError as error:  # up but slow: the local layers answer instead
                failures[self.primary.db.source], slow = error.reason, error
            except UnavailableError as error:
                failures[self.primary.db.source] = error.message
            else:
                self.cache.remember(seen, app.clock())
                return stamp(result, self.primary.db.source)
        else:
            failures[self.primary.db.source] = self._not_used()
            slow = self.stuck if isinstance(self.stuck, SlowError) else None
        return await self._fall_through(app, unit, failures, slow)

    def held(self) -> bool:
        """Writes queued here wait for a replay that stopped short (the primary was slow or
        went away): calls are served locally meanwhile, so none overtakes them."""
        return self.pending and self.stuck is not None

    def _not_used(self) -> str:
        """Why the primary is not asked now."""
        if self.primary.due() and self.stuck is not None:
            stuck = self.stuck
            why = stuck.reason if isinstance(stuck, SlowError) else stuck.message
            return f"queued writes wait for a replay that stopped ({why})"
        return self.primary.reason()

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
        await self._catch_up(app)
        op_id = str(uuid4())
        reason = self._not_used()
        if self.primary.due() and not self.held():
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

        with tap.collecting() as seen:
            result = await apply(
                app, self.primary, spec, args, fingerprint=fingerprint, before=record
            )
        self.cache.remember(seen, app.clock())
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
        await self.cache.flush()  # the change is checked against all the primary showed

        async def unit(conn: AsyncConnection) -> R:
            with tap.collecting() as seen:
                try:
                    outcome = await run_call(app, conn, spec, args, fingerprint)
                except NotFoundError as error:
                    raise UnavailableError(
                        f"the primary is unavailable ({reason}) and the local cache does not "
                        f"hold what this change needs ({error.message}); try again when it is back",
                        layers={self.primary.db.source: reason, self.cache.name: error.message},
                    ) from None
            if not outcome.repeated:
                call = queued_call(spec, args, outcome.result, op_id, fingerprint, queued_at, app)
                await queue_store.push(conn, call)
                await cache_store.mark(conn, seen.written, queued_at, local=True)
            return outcome.result

        result = await self.cache.queue_db.run(unit, write=True)
        self.pending = True
        slow = self.held() and isinstance(self.stuck, SlowError)
        warnings = [
            f"{self._primary_is(slow)} ({reason}); this change is queued on this machine "
            "and will be applied when it is back"
        ]
        if self.status_path is None:
            warnings.append("the status file was not updated: it lies outside the repository")
        else:
            try:
                lock = files.lock_path(self.status_path, app.settings.home_dir)
                warnings += await statusfile.reflect(
                    self.cache.db, self.status_path, app.clock(), lock=lock
                )
            except UnavailableError as error:
                warnings.append(f"the status file was not updated: {error.message}")
        queued = stamp(result, self.cache.name, warnings)
        return queued.model_copy(update={"queued": True})

    # -- getting back in step -----------------------------------------------------------------

    async def _catch_up(self, app: App) -> None:
        """Replay queued writes first whenever the primary may be back, so that calls made
        now never overtake calls made during the outage."""
        if self.pending and self.primary.due() and self._replay_due():
            await self.sync(app)

    def _replay_due(self) -> bool:
        """Not while backing off after a replay met a slow primary (``worktrack sync``
        replays whenever asked)."""
        return time.monotonic() >= self.replay_after

    async def sync(self, app: App) -> ReplayReport:
        return await self._replay(app, self)

    async def queued(self) -> int:
        return await self.cache.db.run(queue_store.count)

    async def maintain(self, app: App, interval: float) -> None:
        """Look for the primary and replay what is queued, every ``interval`` seconds."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.pending = self.pending or await self.queued() > 0
                looking = self.pending or not self.primary.healthy
                found = looking and await self.primary.probe()
                if found and self.pending and self._replay_due():
                    await self.sync(app)
            except Exception:  # the loop must outlive any one failure
                log.exception("background sync failed")

    async def rewrite_status_file(self, app: App) -> None:
        """After a replay the file shows what the primary holds (if there is a file)."""
        if self.status_path is None or not self.status_path.exists():
            return
        try:
            markdown = await self.primary.run(
                lambda conn: statusfile.report_text(conn, app.clock())
            )
            lock = files.lock_path(self.status_path, app.settings.home_dir)
            await statusfile.write_report(self.status_path, markdown, lock=lock)
        except UnavailableError as error:
            log.warning("status file not rewritten after replay: %s", error.message)

    async def close(self) -> None:
        try:
            await self.cache.flush()
        except UnavailableError as error:  # only cached copies are lost; the queue is durable
            log.warning("the last rows seen were not cached: %s", error.message)
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
    async def __call__(self) -> AsyncIterator[bool]:
        async with self._local:
            try:
                await asyncio.to_thread(self._file.acquire, timeout=self._wait)
            except Timeout:
                yield False
                return
            try:
                yield True
            finally:
                await asyncio.to_thread(self._file.release)
