"""The forms legacy files write values in, turned into the one form worktrack stores."""

from __future__ import annotations

import re
from dataclasses import dataclass

_YEAR_FIRST = re.compile(r"([0-9]{4})\s?-?\s?Q([1-4])", re.IGNORECASE)
_QUARTER_FIRST = re.compile(r"Q([1-4])\s?-?\s?([0-9]{4})", re.IGNORECASE)
_FULL_HASH = re.compile(r"[0-9a-f]{40}")
# Hex only: nothing that reaches git can be read as an option ("-...") or a ref name.
_SHORT_HASH = re.compile(r"[0-9a-f]{4,39}")


class NotNormal(ValueError):
    """A value in no form this module knows; the message says which forms it takes."""


def quarter(text: str | None) -> str | None:
    """``2026-Q1``, ``Q1 2026``, ``2026 Q1``, ``q1-2026``... as ``2026-Q1``; blank is none."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if found := _YEAR_FIRST.fullmatch(text):
        return f"{found[1]}-Q{found[2]}"
    if found := _QUARTER_FIRST.fullmatch(text):
        return f"{found[2]}-Q{found[1]}"
    raise NotNormal(f"target {text!r} is not a quarter (write 2026-Q1 or Q1 2026)")


def word(text: str) -> str:
    """Status words compare without case: ``Active`` is ``active``."""
    return text.strip().lower()


# The other words legacy files use for the six work-item statuses.
_ITEM_STATUS_WORDS = {
    "open": "active",
    "todo": "active",
    "to_do": "active",
    "in_progress": "in_progress",
    "inprogress": "in_progress",
    "wip": "in_progress",
    "started": "in_progress",
    "on_hold": "deferred",
    "postponed": "deferred",
    "paused": "deferred",
    "done": "completed",
    "complete": "completed",
    "finished": "completed",
    "canceled": "cancelled",
    "dropped": "cancelled",
    "abandoned": "cancelled",
}


def item_status(text: str) -> str:
    """A work-item status in the six worktrack knows: ``In Progress``, ``in-progress`` and
    ``WIP`` are ``in_progress``, ``Done`` is ``completed``, ``Canceled`` is ``cancelled``...
    A word it does not know comes back as written (lower case), for the entry check to name."""
    key = re.sub(r"[\s-]+", "_", word(text))
    return _ITEM_STATUS_WORDS.get(key, key)


@dataclass(frozen=True)
class Commit:
    text: str  # lower case hex
    full: bool  # False: an abbreviated hash, to resolve in the repository


def commit(text: str) -> Commit:
    hexits = text.strip().lower()
    if _FULL_HASH.fullmatch(hexits):
        return Commit(hexits, full=True)
    if _SHORT_HASH.fullmatch(hexits):
        return Commit(hexits, full=False)
    raise NotNormal(f"commit {text!r} is not a commit hash (4 to 40 hex characters)")
