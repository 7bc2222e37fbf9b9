"""Helpers the entity services share: change diffs, conflicts, cursors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from worktrack.errors import ValidationError, VersionConflictError
from worktrack.models.common import entity_json

Changes = dict[str, list[Any]]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def diff(before: dict[str, Any], after: dict[str, Any]) -> Changes:
    """``{field: [old, new]}`` for every field in ``after`` whose value differs."""
    return {
        name: [_plain(before.get(name)), _plain(value)]
        for name, value in after.items()
        if before.get(name) != value
    }


def created(values: dict[str, Any]) -> Changes:
    return {name: [None, _plain(value)] for name, value in values.items() if value is not None}


def version_conflict(kind: str, expected: int, current: BaseModel) -> VersionConflictError:
    data = entity_json(current)
    return VersionConflictError(
        kind,
        expected_version=expected,
        current_version=data["version"],
        last_updated_by=data.get("updated_by"),
        current=data,
    )


def _scope_hash(scope: dict[str, Any]) -> str:
    text = json.dumps(scope, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_cursor(position: list[Any], scope: dict[str, Any]) -> str:
    """An opaque cursor for the page after ``position``, valid only for the same filters."""
    body = json.dumps({"p": [_plain(v) for v in position], "s": _scope_hash(scope)})
    return base64.urlsafe_b64encode(body.encode()).decode()


def decode_cursor(cursor: str, scope: dict[str, Any]) -> list[Any]:
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        position, scope_hash = body["p"], body["s"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise ValidationError("cursor", "not a cursor this server issued") from None
    if scope_hash != _scope_hash(scope) or not isinstance(position, list):
        raise ValidationError("cursor", "belongs to a listing with different filters")
    return position
