"""The parser's line-level readers: one entity heading or ``- **Field**: value`` line at a
time. Each raises ``Bad`` with a reason when the text is not what that line must hold."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from worktrack.report.escape import closing_bracket, split_list, unescape
from worktrack.report.parsed import (
    STANDARD_FLAGS,
    ParsedDeployment,
    ParsedEnhancement,
    ParsedVendor,
)

E = TypeVar("E")
Setter = Callable[[Any, str], Any]

_ID = re.compile(r" <!-- id:([0-9A-Za-z-]{1,64}) v:([0-9]{1,9}) -->")
_ID_START = " <!-- id:"
_COUNTS = re.compile(r"\(([0-9]{1,9})/([0-9]{1,9}) tests(?:, ([0-9]{1,9}) skipped)?\)")
_CLOCK = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) UTC")
_DEPLOYED = re.compile(r"(.{23})(?: - PR #([0-9]{1,9}))?")
_TEST_COUNT = re.compile(r"[0-9]{1,9}")
_PRIORITY = " (Priority: "
_ITEM_TYPE = re.compile(r"[a-z_]{1,20}")
_ITEM_PRIORITY = re.compile(r"P([0-4])")
_PROGRESS = re.compile(r"([0-9]{1,9})/([0-9]{1,9}) \(([0-9]{1,3})%\)")
_UNTIL = " until "
_NO_END = "further notice"
_NONE = "none"


class Bad(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def split_ident(text: str) -> tuple[str, tuple[str | None, int | None], bool]:
    """``text`` without a trailing id comment, the comment's (id, version), and whether a
    comment was there but malformed. Escaped text never holds ``<!--``, so the last one on
    the line is the comment, whatever the title before it says."""
    start = text.rfind(_ID_START)
    if start < 0:
        return text, (None, None), False
    found = _ID.fullmatch(text, start)
    if found is None:
        return text[:start], (None, None), True
    return text[:start], (found.group(1), int(found.group(2))), False


def timestamp(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Bad("not an ISO-8601 timestamp") from None
    if at.tzinfo is None:
        raise Bad("timestamp without a UTC offset")
    return at.astimezone(UTC)


def clock(text: str) -> datetime:
    """A ``YYYY-MM-DD HH:MM:SS UTC`` time."""
    found = _CLOCK.fullmatch(text.strip())
    if found is None:
        raise Bad("not a 'YYYY-MM-DD HH:MM:SS UTC' time")
    year, month, day, hour, minute, second = (int(part) for part in found.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise Bad("not a valid date and time") from None


def count(text: str) -> int:
    text = text.strip()
    if _TEST_COUNT.fullmatch(text) is None:
        raise Bad("not a count")
    return int(text)


def vendor(line: int, text: str, entity_id: str | None, version: int | None) -> ParsedVendor:
    """``<name>**: <status>`` plus, in single-line legacy entries, its details."""
    end = text.rfind("**: ")
    if end < 0:
        raise Bad("expected '- **<name>**: <status>'")
    status, _, details = text[end + 4 :].partition(" ")
    found = ParsedVendor(line, entity_id, version, unescape(text[:end]), unescape(status))
    return vendor_detail(found, details) if details else found


def vendor_detail(found: ParsedVendor, text: str) -> ParsedVendor:
    """``(<passing>/<total> tests[, <n> skipped])`` and/or ``[<formats>][ v<version>]``."""
    if text.startswith("("):
        end = text.find(")") + 1
        counts = _COUNTS.fullmatch(text, 0, end) if end else None
        if counts is None:
            raise Bad("expected '(<passing>/<total> tests, <skipped> skipped)'")
        passing, total, skipped = counts.groups()
        found = replace(
            found,
            passing=int(passing),
            total=int(total),
            skipped=int(skipped) if skipped is not None else None,
        )
        text = text[end:].removeprefix(" ")
    if text.startswith("["):
        end = closing_bracket(text)
        if end < 0:
            raise Bad("a format list without its closing ']'")
        found = replace(found, formats=formats(text[1:end]), formats_listed=True)
        text = text[end + 1 :]
        if text.startswith(" v"):
            found, text = replace(found, extractor_version=unescape(text[2:])), ""
    if text:
        raise Bad("unexpected text in a vendor entry")
    return found


def formats(text: str) -> dict[str, bool]:
    listed = [] if text == _NONE else split_list(text)
    return dict.fromkeys(STANDARD_FLAGS, False) | dict.fromkeys(listed, True)


def title_and_type(text: str) -> tuple[str, str]:
    """``<title> (<item_type>)``: the type is the last parenthesis, so titles may hold any."""
    start = text.rfind(" (")
    item_type = text[start + 2 : -1]
    if start < 0 or not text.endswith(")") or not _ITEM_TYPE.fullmatch(item_type):
        raise Bad("expected '### <title> (<item_type>)'")
    return unescape(text[:start]), item_type


def deployment(
    line: int, text: str, entity_id: str | None, version: int | None
) -> ParsedDeployment:
    found = _DEPLOYED.fullmatch(text)
    if found is None:
        raise Bad("expected '### <YYYY-MM-DD HH:MM:SS> UTC - PR #<n>'")
    pr_number = int(found.group(2)) if found.group(2) else None
    return ParsedDeployment(line, entity_id, version, clock(found.group(1)), pr_number)


def enhancement(
    line: int, text: str, entity_id: str | None, version: int | None
) -> ParsedEnhancement:
    start = text.rfind(_PRIORITY)
    if start < 0 or not text.endswith(")"):
        raise Bad("expected '### <title> (Priority: <n>)'")
    priority = count(text[start + len(_PRIORITY) : -1])
    return ParsedEnhancement(line, entity_id, version, unescape(text[:start]), priority)


def split_field(text: str) -> tuple[str, str]:
    """``- **<Key>**: <value>`` as (key, value); the value exactly as written."""
    end = text.find("**:", 4)
    if end < 0:
        raise Bad("expected '- **<Field>**: <value>'")
    return text[4:end], text[end + 3 :].removeprefix(" ")


def apply(setters: dict[str, Setter], kind: str, entity: E, key: str, value: str) -> E:
    setter = setters.get(key)
    if setter is None:
        raise Bad(f"a {kind} has no field {key!r}")
    updated: E = setter(entity, value)
    return updated


def _tests(text: str) -> dict[str, int]:
    summary: dict[str, int] = {}
    for part in split_list(text):
        category, sep, number = part.rpartition(": ")
        if not sep:
            raise Bad("expected '<category>: <n>, …'")
        summary[category] = count(number)
    return summary


def _compliance(text: str) -> bool:
    marks = {"✓": True, "✗": False}
    if text.strip() not in marks:
        raise Bad("expected ✓ or ✗")
    return marks[text.strip()]


def _commit(text: str) -> str:
    text = text.strip()
    return unescape(text[1:-1] if len(text) > 1 and text[0] == text[-1] == "`" else text)


def _word(text: str) -> str:
    return unescape(text.strip())


def _item_priority(text: str) -> int:
    found = _ITEM_PRIORITY.fullmatch(text.strip())
    if found is None:
        raise Bad("expected a priority P0 .. P4")
    return int(found.group(1))


def _claim(entity: Any, text: str) -> Any:
    """``<actor> until <timestamp>``: the actor is escaped text, so the last " until " is
    the separator whatever the actor's name says."""
    actor, sep, until = text.rpartition(_UNTIL)
    if not sep or not actor:
        raise Bad("expected '<actor> until <timestamp>'")
    ends = None if until.strip() == _NO_END else timestamp(until)
    return replace(entity, claimed_by=unescape(actor), claim_expires_at=ends)


def _progress(text: str) -> tuple[int, int]:
    found = _PROGRESS.fullmatch(text.strip())
    if found is None:
        raise Bad("expected '<completed>/<total> (<percent>%)'")
    return int(found.group(1)), int(found.group(2))


WORK_ITEM: dict[str, Setter] = {
    "Status": lambda e, v: replace(e, status=_word(v)),
    "Priority": lambda e, v: replace(e, priority=_item_priority(v)),
    "Created": lambda e, v: replace(e, created_at=clock(v)),
    "Labels": lambda e, v: replace(e, labels=tuple(split_list(v))),
    "Claimed": _claim,
    "Blocked by": lambda e, v: replace(e, blocked_by=tuple(split_list(v))),
    "Progress": lambda e, v: replace(e, progress=_progress(v)),
    "Branch": lambda e, v: replace(e, branch=unescape(v)),
    "Parent": lambda e, v: replace(e, parent_title=unescape(v)),
}
DEPLOYMENT: dict[str, Setter] = {
    "Title": lambda e, v: replace(e, title=unescape(v)),
    "Commit": lambda e, v: replace(e, commit=_commit(v)),
    "Tests": lambda e, v: replace(e, tests=_tests(v)),
    "Constitutional Compliance": lambda e, v: replace(e, compliance=_compliance(v)),
    "Vendors": lambda e, v: replace(e, vendors=tuple(split_list(v))),
}
ENHANCEMENT: dict[str, Setter] = {
    "Status": lambda e, v: replace(e, status=_word(v)),
    "Target": lambda e, v: replace(e, target=unescape(v)),
    "Description": lambda e, v: replace(e, description=unescape(v)),
}
