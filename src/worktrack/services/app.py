"""What every service call runs with, and the two edges every call passes through.

``@reads`` and ``@writes`` turn ``fn(app, conn, **kwargs)`` into ``fn(app, **kwargs)``: they
open the transaction, stamp the result with its data source, and for writes honour
``request_id`` (a repeated id returns the first result and applies nothing again).
Writes register themselves by tool name so queued calls can be replayed later.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.db import Database
from worktrack.errors import ValidationError, WorktrackError
from worktrack.models.common import Envelope, stamp
from worktrack.settings import Settings
from worktrack.store import idempotency

P = ParamSpec("P")
R = TypeVar("R", bound=Envelope)
Unit = Callable[[AsyncConnection], Awaitable[R]]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class App:
    settings: Settings
    db: Database
    clock: Callable[[], datetime] = utcnow
    actor: str = "unknown"

    def acting_as(self, actor: str) -> App:
        return replace(self, actor=actor)

    def who(self, given: str | None) -> str:
        return given or self.actor

    async def read(self, unit: Unit[R]) -> R:
        return stamp(await self.db.run(unit), self.db.source)

    async def write(self, tool: str, args: dict[str, Any], unit: Unit[R], model: type[R]) -> R:
        request_id: str | None = args.get("request_id")
        fingerprint = _fingerprint(tool, args)
        if request_id is not None and (earlier := await self._earlier(request_id)):
            return self._repeat(earlier, tool, fingerprint, model)

        async def attempt(conn: AsyncConnection) -> R:
            result = await unit(conn)
            if request_id is not None:
                body = result.model_dump(mode="json")
                if not await idempotency.save(
                    conn, request_id, tool, fingerprint, body, self.clock()
                ):
                    raise _LostRequestRace
            return result

        try:
            result = await self.db.run(attempt, write=True)
        except (_LostRequestRace, WorktrackError):
            # A concurrent call with the same request_id may have won; if so, its result
            # is the answer (a retry must not surface the conflict its twin caused).
            if request_id is None or not (earlier := await self._earlier(request_id)):
                raise
            return self._repeat(earlier, tool, fingerprint, model)
        return stamp(result, self.db.source).model_copy(update={"queued": False})

    async def _earlier(self, request_id: str) -> idempotency.StoredResult | None:
        return await self.db.run(lambda conn: idempotency.find(conn, request_id))

    def _repeat(
        self, earlier: idempotency.StoredResult, tool: str, fingerprint: str, model: type[R]
    ) -> R:
        if (earlier.tool, earlier.fingerprint) != (tool, fingerprint):
            raise ValidationError(
                "request_id",
                f"already used for a different call ({earlier.tool}); use a new request_id",
            )
        repeated = stamp(model.model_validate(earlier.result), self.db.source)
        return repeated.model_copy(update={"queued": False})


class _LostRequestRace(Exception):
    """Another call with the same request_id committed first."""


def _fingerprint(tool: str, args: dict[str, Any]) -> str:
    payload = {k: v for k, v in args.items() if k != "request_id"}
    text = json.dumps([tool, payload], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


ServiceBody = Callable[Concatenate[App, AsyncConnection, P], Awaitable[R]]
Service = Callable[Concatenate[App, P], Awaitable[R]]
WRITE_SERVICES: dict[str, Service[..., Any]] = {}


def reads(fn: ServiceBody[P, R]) -> Service[P, R]:
    @functools.wraps(fn)
    async def run(app: App, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await app.read(lambda conn: fn(app, conn, *args, **kwargs))

    return run


def writes(tool: str, model: type[R]) -> Callable[[ServiceBody[P, R]], Service[P, R]]:
    def decorate(fn: ServiceBody[P, R]) -> Service[P, R]:
        @functools.wraps(fn)
        async def run(app: App, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return await app.write(tool, kwargs, lambda conn: fn(app, conn, *args, **kwargs), model)

        WRITE_SERVICES[tool] = run
        return run

    return decorate
