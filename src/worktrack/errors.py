"""The errors worktrack raises; each maps to one contract error name.

    WorktrackError
    ├── ValidationError        bad input: type, range, unknown key, depth, cycle
    ├── NotFoundError          an id, prefix or name that does not exist
    ├── VersionConflictError   a stale ``version``
    ├── ConflictError          uniqueness or state conflict (duplicate name, foreign claim)
    └── UnavailableError       no storage layer can answer (the primary is down)
        └── SlowError          the database answered but did not finish in time

Persistence exceptions are translated at the database edge (``db.py``); nothing above
the store sees ``sqlalchemy.exc``. ``mcp_errors.py`` turns these into tool errors.

A ``SlowError`` keeps the contract's wire name ``UnavailableError``; its details say
``state: "slow"`` and the ``cause``, where a down primary's say ``state: "down"``.
Which failures are which is decided in ``docs/adr/0016-down-slow-retry.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

# What the current call is (a tool's name, "replay of update_work_item"), so an error
# raised deep in the database edge can say which operation failed.
_OPERATION: ContextVar[str | None] = ContextVar("worktrack_operation", default=None)

SlowCause = Literal[
    "statement_timeout",  # the server cancelled a statement at statement_timeout (57014)
    "lock_timeout",  # a lock wait passed lock_timeout (55P03); SQLite: busy timeout
    "command_timeout",  # no answer within the client's timeout, yet the server answers others
    "canceled",  # the statement was cancelled on the server (57014, not by a timeout)
    "deadlock",  # chosen as a deadlock victim (40P01) on every attempt
    "serialization_failure",  # 40001 on every attempt
    "pool_timeout",  # every pooled connection stayed busy
]
DownCause = Literal[
    "connection_refused",
    "dns",
    "connect_timeout",
    "cannot_connect",  # the server refused the session (shutting down, starting, full)
    "connection_lost",  # lost mid-call on every attempt
    "no_answer",  # a statement got no answer and a fresh connection got none either
    "commit_unknown",  # lost during COMMIT: applied or not, only the op id can tell
]


@contextmanager
def operation(name: str) -> Iterator[None]:
    """Name the operation errors raised inside this block belong to."""
    token = _OPERATION.set(name)
    try:
        yield
    finally:
        _OPERATION.reset(token)


def current_operation() -> str | None:
    return _OPERATION.get()


class WorktrackError(Exception):
    name = "WorktrackError"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def payload(self) -> dict[str, Any]:
        return {"error": self.name, "message": self.message, "details": self.details}


class ValidationError(WorktrackError):
    name = "ValidationError"

    def __init__(self, field: str, constraint: str, message: str | None = None) -> None:
        super().__init__(message or f"{field}: {constraint}", field=field, constraint=constraint)
        self.field = field
        self.constraint = constraint


class NotFoundError(WorktrackError):
    name = "NotFoundError"

    def __init__(self, kind: str, *, id: str | None = None, name: str | None = None) -> None:
        key, value = ("name", name) if name is not None else ("id", id)
        super().__init__(f"no {kind} with {key} {value!r}", kind=kind, **{key: value})
        self.kind = kind


class VersionConflictError(WorktrackError):
    name = "VersionConflictError"

    def __init__(
        self,
        kind: str,
        *,
        expected_version: int,
        current_version: int,
        last_updated_by: str | None,
        current: dict[str, Any],
    ) -> None:
        super().__init__(
            f"{kind} changed since you read it: you sent version {expected_version}, "
            f"it is now at version {current_version} (last updated by {last_updated_by}); "
            "re-read it and retry",
            expected_version=expected_version,
            current_version=current_version,
            last_updated_by=last_updated_by,
            current=current,
        )
        self.current_version = current_version


class ConflictError(WorktrackError):
    name = "ConflictError"


class UnavailableError(WorktrackError):
    name = "UnavailableError"


class SlowError(UnavailableError):
    """The database is up but did not finish this call: a timeout, a lock wait, a deadlock
    on every attempt. Nothing was changed. Reads may fall back to the local layers; writes
    are not queued (the primary is not down): the caller sees this error and may retry."""

    def __init__(self, layer: str, cause: SlowCause, reason: str, **details: Any) -> None:
        super().__init__(
            f"{layer} is slow: {reason}",
            layers={layer: reason},
            state="slow",
            cause=cause,
            **details,
        )
        self.layer = layer
        self.cause: SlowCause = cause
        self.reason = reason
