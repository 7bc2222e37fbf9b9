"""What every service call runs with, and the two edges every call passes through.

``@reads`` and ``@writes`` turn ``fn(app, conn, **kwargs)`` into ``fn(app, **kwargs)``. A
read is a unit of work ``App.read`` runs on whichever storage layer can answer, in one
transaction (one snapshot); ``@reads_one`` is for a read that runs a single statement, which
needs no transaction around it (``db.OneStatement``). A write is
described by a ``WriteSpec`` (its tool name, body and result model), so the same call can
run on the primary now, on the local cache while the primary is down, and on the primary
again when the queued call is replayed (``WRITES`` finds a spec by tool name).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, get_type_hints

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Database, OneStatement, Runner
from worktrack.errors import ValidationError, WorktrackError
from worktrack.models.common import Envelope, stamp
from worktrack.settings import Settings
from worktrack.store import idempotency

P = ParamSpec("P")
R = TypeVar("R", bound=Envelope)
Unit = Callable[[AsyncConnection], Awaitable[R]]
ServiceBody = Callable[Concatenate["App", AsyncConnection, P], Awaitable[R]]
Service = Callable[Concatenate["App", P], Awaitable[R]]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WriteSpec(Generic[R]):
    """A write tool's service: enough to run, queue and replay a call of it."""

    tool: str
    body: ServiceBody[..., R]
    model: type[R]
    entity: str
    # Result fields a queued call records in its arguments, so its replay does the same
    # thing (the id a create chose offline, the full id a prefix named, defaults taken).
    keep: tuple[str, ...] = ()
    # False for calls that only make sense against the primary (maintenance, sync).
    queueable: bool = True

    def bind(self, app: App, args: dict[str, Any]) -> Unit[R]:
        return lambda conn: self.body(app, conn, **args)

    def decode(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Arguments stored as JSON (a queued call's) as the service takes them."""
        return {
            name: _adapter(self.body, name).validate_python(value) for name, value in raw.items()
        }


@functools.cache
def _adapter(body: Callable[..., Any], argument: str) -> TypeAdapter[Any]:
    return TypeAdapter(get_type_hints(body)[argument])


class Storage(Protocol):
    """Where calls go when a primary with fallback layers is configured (``fallback``)."""

    async def read(self, app: App, unit: Unit[R]) -> R: ...

    async def write(self, app: App, spec: WriteSpec[R], args: dict[str, Any]) -> R: ...


@dataclass(frozen=True)
class App:
    settings: Settings
    db: Database
    clock: Callable[[], datetime] = utcnow
    actor: str = "unknown"
    storage: Storage | None = None

    def acting_as(self, actor: str) -> App:
        return replace(self, actor=actor)

    def who(self, given: str | None) -> str:
        return given or self.actor

    async def read(self, unit: Unit[R]) -> R:
        if self.storage is not None:
            return await self.storage.read(self, unit)
        return stamp(await self.db.run(unit), self.db.source)

    async def write(self, spec: WriteSpec[R], args: dict[str, Any]) -> R:
        if self.storage is not None:
            return await self.storage.write(self, spec, args)
        return await apply(self, self.db, spec, args)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    result: R
    repeated: bool  # an earlier call with the same request_id answered; nothing applied


async def run_call(
    app: App, conn: AsyncConnection, spec: WriteSpec[R], args: dict[str, Any], fingerprint: str
) -> Outcome[R]:
    """A write call's effect inside an open transaction, honouring ``request_id``: a repeat
    returns the first call's result and applies nothing again."""
    request_id: str | None = args.get("request_id")
    if request_id is not None and (earlier := await idempotency.find(conn, request_id)):
        return Outcome(_repeat(earlier, spec, fingerprint), repeated=True)
    result = await spec.bind(app, args)(conn)
    if request_id is not None:
        body = result.model_dump(mode="json")
        if not await idempotency.save(conn, request_id, spec.tool, fingerprint, body, app.clock()):
            raise _LostRequestRace
    return Outcome(result, repeated=False)


Before = Callable[[AsyncConnection], Awaitable[None]]


async def apply(
    app: App,
    db: Runner,
    spec: WriteSpec[R],
    args: dict[str, Any],
    *,
    fingerprint: str | None = None,
    before: Before | None = None,
) -> R:
    """Run a write call in one transaction on ``db`` (``before`` runs first in it)."""
    fingerprint = fingerprint or call_fingerprint(spec.tool, args)

    async def attempt(conn: AsyncConnection) -> R:
        if before is not None:
            await before(conn)
        return (await run_call(app, conn, spec, args, fingerprint)).result

    try:
        result = await db.run(attempt, write=True)
    except (_LostRequestRace, WorktrackError):
        # A concurrent call with the same request_id may have won; if so, its result is
        # the answer (a retry must not surface the conflict its twin caused).
        request_id = args.get("request_id")
        earlier = (
            await db.run(lambda conn: idempotency.find(conn, request_id)) if request_id else None
        )
        if earlier is None:
            raise
        result = _repeat(earlier, spec, fingerprint)
    return stamp(result, db.source).model_copy(update={"queued": False})


def _repeat(earlier: idempotency.StoredResult, spec: WriteSpec[R], fingerprint: str) -> R:
    if (earlier.tool, earlier.fingerprint) != (spec.tool, fingerprint):
        raise ValidationError(
            "request_id",
            f"already used for a different call ({earlier.tool}); use a new request_id",
        )
    return spec.model.model_validate(earlier.result)


class _LostRequestRace(Exception):
    """Another call with the same request_id committed first."""


def call_fingerprint(tool: str, args: dict[str, Any]) -> str:
    """What identifies a call for ``request_id``: the tool and the caller's arguments."""
    payload = {k: v for k, v in args.items() if k != "request_id"}
    text = json.dumps([tool, payload], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


WRITES: dict[str, WriteSpec[Any]] = {}


def reads(fn: ServiceBody[P, R]) -> Service[P, R]:
    @functools.wraps(fn)
    async def run(app: App, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await app.read(lambda conn: fn(app, conn, *args, **kwargs))

    return run


def reads_one(fn: ServiceBody[P, R]) -> Service[P, R]:
    """``@reads`` for a body that runs exactly one statement: on the primary it runs
    without BEGIN and COMMIT. A body that may run two statements must use ``@reads``."""

    @functools.wraps(fn)
    async def run(app: App, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await app.read(OneStatement(lambda conn: fn(app, conn, *args, **kwargs)))

    return run


def writes(
    tool: str,
    model: type[R],
    *,
    entity: str,
    keep: tuple[str, ...] = (),
    queueable: bool = True,
) -> Callable[[ServiceBody[P, R]], Service[P, R]]:
    def decorate(fn: ServiceBody[P, R]) -> Service[P, R]:
        spec = WriteSpec(tool, fn, model, entity, keep, queueable)
        WRITES[tool] = spec

        @functools.wraps(fn)
        async def run(app: App, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return await app.write(spec, dict(kwargs))

        return run

    return decorate
