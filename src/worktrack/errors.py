"""The errors worktrack raises; each maps to one contract error name.

    WorktrackError
    ├── ValidationError        bad input: type, range, unknown key, depth, cycle
    ├── NotFoundError          an id, prefix or name that does not exist
    ├── VersionConflictError   a stale ``version``
    ├── ConflictError          uniqueness or state conflict (duplicate name, foreign claim)
    └── UnavailableError       no storage layer can answer

Persistence exceptions are translated at the database edge (``db.py``); nothing above
the store sees ``sqlalchemy.exc``. ``mcp_errors.py`` turns these into tool errors.
"""

from __future__ import annotations

from typing import Any


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
