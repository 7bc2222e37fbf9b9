"""What a unit of work read or wrote, as the store saw it.

The store records every full row it returns (and the link sets and deletions it knows are
complete) into the ``Seen`` of the current call, if one is being collected. Two uses:
rows read from Postgres fill the local cache (contract §5: "the cache is filled by every
successful Postgres read and write"), and rows read from a fallback layer tell how old the
answer is. Collecting is off unless a caller opts in, so the embedded default pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

Row = dict[str, Any]


@dataclass(frozen=True)
class LinkSet:
    """The rows of ``table`` where any of ``columns`` equals ``value``: exactly ``rows``."""

    table: str
    columns: tuple[str, ...]
    value: str
    rows: tuple[Row, ...]


@dataclass
class Seen:
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    link_sets: list[LinkSet] = field(default_factory=list)
    deleted: list[tuple[str, Row]] = field(default_factory=list)
    touched: set[tuple[str, str]] = field(default_factory=set)
    written: set[tuple[str, str]] = field(default_factory=set)

    def shown(self) -> set[tuple[str, str]]:
        """Every entity row this call showed: full rows and rows it only named."""
        return set(self.rows) | self.touched

    def merge(self, other: Seen) -> None:
        self.rows |= other.rows
        self.link_sets += other.link_sets
        self.deleted += other.deleted
        self.touched |= other.touched
        self.written |= other.written

    def __bool__(self) -> bool:
        return bool(self.rows or self.link_sets or self.deleted or self.touched)


_current: ContextVar[Seen | None] = ContextVar("worktrack_seen", default=None)


@contextmanager
def collecting() -> Iterator[Seen]:
    seen = Seen()
    token = _current.set(seen)
    try:
        yield seen
    finally:
        _current.reset(token)


def active() -> bool:
    return _current.get() is not None


def row_key(table: Table, values: Mapping[Any, Any]) -> str:
    return "|".join(str(values[column.name]) for column in table.primary_key.columns)


def row(
    table: Table, values: Mapping[Any, Any], key: str | None = None, *, written: bool = False
) -> None:
    """A full row of ``table`` as stored (derived columns may be left out); ``written`` when
    this call inserted or changed it."""
    seen = _current.get()
    if seen is not None:
        name_key = (table.name, key or row_key(table, values))
        seen.rows[name_key] = values if isinstance(values, dict) else dict(values)
        if written:
            seen.written.add(name_key)


def wrote(table: Table, key: str) -> None:
    """This call inserted or changed the row with this key (its values are read later)."""
    seen = _current.get()
    if seen is not None:
        seen.written.add((table.name, key))


def touched(table: Table, key: str) -> None:
    """A row the call showed only in part (a report line, a summary)."""
    seen = _current.get()
    if seen is not None:
        seen.touched.add((table.name, key))


def link_set(table: Table, columns: tuple[str, ...], value: str, rows: list[Row]) -> None:
    seen = _current.get()
    if seen is not None:
        seen.link_sets.append(LinkSet(table.name, columns, value, tuple(rows)))


def deleted(table: Table, values: Mapping[str, Any]) -> None:
    seen = _current.get()
    if seen is not None:
        seen.deleted.append((table.name, dict(values)))
