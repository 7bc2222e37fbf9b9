"""The export's lines, canonical: the same rows give the same bytes, from SQLite or Postgres.

Each line is one JSON object, ``kind`` first, then the row's columns with sorted keys (nested
objects too), no spaces, UTF-8 rather than ``\\u`` escapes. Timestamps are UTC ISO-8601 with
microseconds (``2026-11-22T10:15:00.000000+00:00``); numbers are JSON's (floats as Python's
shortest repr: ``0.1``, ``1e-07``); text is as stored. Reading checks every line against its
table (known kind, every column, the right types and lengths) and names the line it refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, String

from worktrack.portable.kinds import BY_NAME, Kind
from worktrack.tables import UTCDateTime

FORMAT = 1
HEADER_KIND = "worktrack-export"
HEADER_FIELDS = ("exported_at", "format", "kind", "schema_revision")
_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
Row = dict[str, Any]


class MalformedLine(Exception):
    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number
        self.reason = reason


@dataclass(frozen=True)
class Header:
    schema_revision: str
    exported_at: datetime


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _plain(value: Any) -> Any:
    return timestamp(value) if isinstance(value, datetime) else value


def _line(kind: str, fields: Mapping[str, Any]) -> str:
    body = _dumps(dict(fields), sort_keys=True)
    return f'{{"kind":{_dumps(kind)}' + ("," + body[1:] if len(body) > 2 else "}")


def header(schema_revision: str, exported_at: datetime) -> str:
    fields = {"format": FORMAT, "schema_revision": schema_revision}
    return _line(HEADER_KIND, fields | {"exported_at": timestamp(exported_at)})


def encode(kind: Kind, row: Mapping[str, Any]) -> str:
    return _line(kind.name, {name: _plain(row[name]) for name in kind.columns})


def _object(number: int, text: str) -> dict[str, Any]:
    if not text.strip():
        raise MalformedLine(number, "an empty line")
    try:
        found = json.loads(text)
    except ValueError as error:
        raise MalformedLine(number, f"not JSON ({error})") from None
    if not isinstance(found, dict):
        raise MalformedLine(number, "not a JSON object")
    return found


def read_header(number: int, text: str) -> Header:
    found = _object(number, text)
    if found.get("kind") != HEADER_KIND:
        raise MalformedLine(number, f"not the header: an export starts with kind {HEADER_KIND}")
    if tuple(sorted(found)) != HEADER_FIELDS:
        raise MalformedLine(number, f"the header's fields are {', '.join(HEADER_FIELDS)}")
    given = found["format"]
    if given != FORMAT or isinstance(given, bool):
        raise MalformedLine(number, f"format {given!r}: this worktrack reads format {FORMAT}")
    if not isinstance(found["schema_revision"], str):
        raise MalformedLine(number, "schema_revision must be a string")
    return Header(found["schema_revision"], _timestamp(number, "exported_at", found["exported_at"]))


def decode(number: int, text: str) -> tuple[Kind, Row]:
    """The kind and the row a data line holds, checked against its table."""
    found = _object(number, text)
    name = found.pop("kind", None)
    kind = BY_NAME.get(name) if isinstance(name, str) else None
    if kind is None:
        raise MalformedLine(number, f"unknown kind {name!r}")
    checks = _CHECKS[kind.name]
    if found.keys() != checks.keys():
        problems = []
        if missing := sorted(checks.keys() - found.keys()):
            problems.append(f"missing {', '.join(missing)}")
        if unknown := sorted(found.keys() - checks.keys()):
            problems.append(f"unknown {', '.join(unknown)}")
        raise MalformedLine(number, f"{kind.name} fields: {'; '.join(problems)}")
    return kind, {name: check(number, found[name]) for name, check in checks.items()}


# -- one check per column type: the value as the table stores it, or MalformedLine --

Check = Callable[[int, Any], Any]


def _timestamp(number: int, name: str, value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MalformedLine(number, f"{name}: {value!r} is not an ISO-8601 timestamp with offset")
    return parsed.astimezone(UTC)


def _check_for(column: Column[Any]) -> Check:
    name, kind = column.name, column.type
    if isinstance(kind, UTCDateTime):
        base: Check = partial(_stamp, name=name)
    elif isinstance(kind, JSON):
        base = _any
    elif isinstance(kind, Boolean):
        base = _typed(name, bool, "true or false")
    elif isinstance(kind, Integer):
        base = _typed(name, int, "an integer")
    elif isinstance(kind, String):
        base = _text(name, kind.length)
    else:  # pragma: no cover - a new column type must be taught here
        raise TypeError(f"no export check for {column.table.name}.{name}: {kind!r}")
    return _nullable(base) if column.nullable else _required(name, base)


def _stamp(number: int, value: Any, *, name: str) -> datetime:
    return _timestamp(number, name, value)


def _any(_number: int, value: Any) -> Any:
    return value


def _typed(name: str, wanted: type, said: str) -> Check:
    def check(number: int, value: Any) -> Any:
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise MalformedLine(number, f"{name}: {value!r} is not {said}")
        return value

    return check


def _text(name: str, length: int | None) -> Check:
    def check(number: int, value: Any) -> Any:
        if not isinstance(value, str):
            raise MalformedLine(number, f"{name}: {value!r} is not a string")
        if length is not None and len(value) > length:
            raise MalformedLine(number, f"{name}: longer than {length} characters")
        return value

    return check


def _nullable(check: Check) -> Check:
    return lambda number, value: None if value is None else check(number, value)


def _required(name: str, check: Check) -> Check:
    def required(number: int, value: Any) -> Any:
        if value is None:
            raise MalformedLine(number, f"{name} must not be null")
        return check(number, value)

    return required


_CHECKS: dict[str, dict[str, Check]] = {
    kind.name: {column.name: _check_for(column) for column in kind.table.c}
    for kind in BY_NAME.values()
}
