"""The export's lines, canonical: the same rows give the same bytes, from SQLite or Postgres.

Each line is one JSON object, ``kind`` first, then the row's columns with sorted keys (nested
objects too), no spaces, UTF-8 rather than ``\\u`` escapes. Timestamps are UTC ISO-8601 with
microseconds (``2026-11-22T10:15:00.000000+00:00``); numbers are JSON's (floats as Python's
shortest repr: ``0.1``, ``1e-07``); text is as stored. Reading checks every line against its
table (known kind, every column, the right types and lengths) and names the line it refuses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, Column, Integer, String
from sqlalchemy.types import TypeEngine

from worktrack.portable.kinds import BY_NAME, Kind
from worktrack.tables import UTCDateTime

FORMAT = 1
HEADER_KIND = "worktrack-export"
HEADER_FIELDS = ("exported_at", "format", "kind", "schema_revision")
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True
)
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


@dataclass(frozen=True)
class _Shape:
    """A kind's columns by what a line's value must be (computed once: every check of
    100,000 lines runs through these)."""

    kind: Kind
    prefix: str  # '{"kind":"<name>",'
    columns: tuple[str, ...]
    names: frozenset[str]
    required: tuple[str, ...]
    stamps: tuple[str, ...]
    ints: tuple[str, ...]
    bools: tuple[str, ...]
    texts: tuple[tuple[str, int | None], ...]

    @classmethod
    def of(cls, kind: Kind) -> _Shape:
        columns = list(kind.table.c)

        def typed(wanted: type[TypeEngine[Any]]) -> tuple[str, ...]:
            return tuple(c.name for c in columns if _is(c, wanted))

        known = (UTCDateTime, JSON, Boolean, Integer, String)
        for column in columns:
            if not any(_is(column, t) for t in known):  # pragma: no cover - teach it here
                raise TypeError(f"no export check for {kind.table.name}.{column.name}")
        return cls(
            kind=kind,
            prefix=f'{{"kind":{_ENCODER.encode(kind.name)},',
            columns=tuple(c.name for c in columns),
            names=frozenset(c.name for c in columns),
            required=tuple(c.name for c in columns if not c.nullable),
            stamps=typed(UTCDateTime),
            ints=typed(Integer),
            bools=typed(Boolean),
            texts=tuple((c.name, cast(String, c.type).length) for c in columns if _is(c, String)),
        )


def _is(column: Column[Any], wanted: type[TypeEngine[Any]]) -> bool:
    # A timestamp is its own type first; everything else by the type it stores as.
    if isinstance(column.type, UTCDateTime):
        return wanted is UTCDateTime
    return isinstance(column.type, wanted)


def timestamp(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def header(schema_revision: str, exported_at: datetime) -> str:
    fields = {"format": FORMAT, "schema_revision": schema_revision}
    fields["exported_at"] = timestamp(exported_at)
    return f'{{"kind":"{HEADER_KIND}",' + _ENCODER.encode(fields)[1:]


def encode(kind: Kind, values: Sequence[Any]) -> str:
    """The line of a row given as its values in column order (as ``select(table)`` gives)."""
    shape = _SHAPES[kind.name]
    fields = dict(zip(shape.columns, values, strict=True))
    for name in shape.stamps:
        value = fields[name]
        if value is not None:
            fields[name] = timestamp(value)
    return shape.prefix + _ENCODER.encode(fields)[1:]


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
    shape = _SHAPES.get(name) if isinstance(name, str) else None
    if shape is None:
        raise MalformedLine(number, f"unknown kind {name!r}")
    if found.keys() != shape.names:
        raise MalformedLine(number, _fields_differ(shape, found))
    for column in shape.required:
        if found[column] is None:
            raise MalformedLine(number, f"{column} must not be null")
    for column, length in shape.texts:
        value = found[column]
        if value is None:
            continue
        if type(value) is not str:
            raise MalformedLine(number, f"{column}: {value!r} is not a string")
        if length is not None and len(value) > length:
            raise MalformedLine(number, f"{column}: longer than {length} characters")
    _check_types(number, found, shape.ints, int, "an integer")
    _check_types(number, found, shape.bools, bool, "true or false")
    for column in shape.stamps:
        value = found[column]
        if value is not None:
            found[column] = _timestamp(number, column, value)
    return shape.kind, found


def _fields_differ(shape: _Shape, found: Row) -> str:
    problems = []
    if missing := sorted(shape.names - found.keys()):
        problems.append(f"missing {', '.join(missing)}")
    if unknown := sorted(found.keys() - shape.names):
        problems.append(f"unknown {', '.join(unknown)}")
    return f"{shape.kind.name} fields: {'; '.join(problems)}"


def _check_types(
    number: int, found: Row, columns: tuple[str, ...], wanted: type, said: str
) -> None:
    for column in columns:
        value = found[column]
        if value is not None and type(value) is not wanted:  # True is no integer here
            raise MalformedLine(number, f"{column}: {value!r} is not {said}")


def _timestamp(number: int, name: str, value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MalformedLine(number, f"{name}: {value!r} is not an ISO-8601 timestamp with offset")
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


_SHAPES = {kind.name: _Shape.of(kind) for kind in BY_NAME.values()}
