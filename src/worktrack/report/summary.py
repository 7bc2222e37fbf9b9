"""The status report's digest: what ``generate_status_report`` returns by default.

The full report (``render``) lists every vendor and open item: 40,000 tokens at 1,200
items, 170,000 at 100,000. An assistant reads the digest instead: the heading, each
section's heading with its count, the items in progress, the blocked items, the first ten
of ``ready_work``, the broken vendors and, with ``since``, what changed since then. It is
at most ``LIMIT`` characters at any project size: titles are shortened, and while the
digest is too long the longest list shows fewer entries ("… n more" says how many are
left out; ``detail="full"`` has them all).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING

from worktrack.report.escape import inline
from worktrack.report.model import Change, Deployment, Digest, WorkItem
from worktrack.report.render import timestamp

if TYPE_CHECKING:
    import jinja2

    from worktrack.models.work_items import WorkItemSummary

LIMIT = 8_000  # characters (contract §4: at most 8,000)
TITLE_CHARS = 80  # of a title or name as stored, before escaping
FIRST_SHOWN = 15  # entries of a list before the digest is shortened to fit
CHANGE_TITLES = {"completed": "Completed", "created": "Created", "blocked": "Blocked"}


@dataclass(frozen=True)
class Section:
    """A list in the digest: its heading, how many entries it has, the lines shown."""

    title: str
    total: int
    entries: tuple[str, ...]
    shown: int = FIRST_SHOWN

    @property
    def lines(self) -> tuple[str, ...]:
        return self.entries[: self.shown]

    @property
    def more(self) -> int:
        return self.total - len(self.lines)


@functools.cache
def _template() -> jinja2.Template:
    import jinja2  # on the first report, not at start-up

    source = resources.files(__package__ or "worktrack.report").joinpath("summary.md.j2")
    environment = jinja2.Environment(
        autoescape=False,  # markdown: values are escaped by ``escape`` rules here
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment.from_string(source.read_text(encoding="utf-8"))


def _short(text: str) -> str:
    """One line of at most ``TITLE_CHARS`` stored characters (escaped: bounded too)."""
    cut = text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"
    return inline(cut)


def _clock(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(" ", "seconds")[:19]


def _item(item: WorkItem) -> str:
    return f"{_short(item.title)} ({item.item_type}) id:{item.id}"


def _ready(item: WorkItemSummary) -> str:
    return f"{_short(item.title)} ({item.item_type}, P{item.priority}) id:{item.id}"


def _change(change: Change) -> str:
    return f"{_clock(change.at)} UTC - {_short(change.title)} ({change.item_type}) id:{change.id}"


def _deployment(d: Deployment) -> str:
    pr = f" - PR #{d.pr_number}" if d.pr_number else ""
    title = f": {_short(d.pr_title)}" if d.pr_title is not None else ""
    return f"{_clock(d.deployed_at)} UTC{pr}{title} id:{d.id}"


def _section(title: str, entries: Sequence[str]) -> Section:
    return Section(title, len(entries), tuple(entries))


def _items(digest: Digest, ready: Sequence[WorkItemSummary]) -> list[Section]:
    return [
        _section("In Progress", [_item(i) for i in digest.in_progress]),
        _section("Blocked", [_item(i) for i in digest.blocked]),
        _section("Ready to Start (first 10 of ready_work)", [_ready(i) for i in ready[:10]]),
    ]


def _changes(digest: Digest) -> list[Section]:
    found = [
        _section(title, [_change(c) for c in digest.changes if c.kind == kind])
        for kind, title in CHANGE_TITLES.items()
    ]
    return [*found, _section("Deployments", [_deployment(d) for d in digest.new_deployments])]


def _vendors(digest: Digest) -> list[Section]:
    broken = [f"**{_short(v.name)}**: {inline(v.status)} id:{v.id}" for v in digest.broken]
    return [_section("Broken", broken)]


def _fill(sections: dict[str, list[Section]], generated_at: str, digest: Digest) -> str:
    numbers = digest.counts
    since = digest.since
    return _template().render(
        generated_at=generated_at,
        since=since.astimezone(UTC).isoformat() if since is not None else None,
        changes=sections["changes"],
        operational=numbers["operational_vendors"],
        vendor_count=numbers["vendors"],
        vendor_sections=sections["vendors"],
        active=numbers["active_work_items"],
        item_sections=sections["items"],
        deployments=numbers["deployments"],
        enhancements=numbers["enhancements"],
    )


def _shorten(sections: dict[str, list[Section]]) -> bool:
    """Show fewer entries of the list showing most; False when none shows any."""
    every = [(part, n) for part, found in sections.items() for n in range(len(found))]
    part, n = max(every, key=lambda at: len(sections[at[0]][at[1]].lines))
    longest = sections[part][n]
    if not longest.lines:
        return False
    sections[part][n] = replace(longest, shown=len(longest.lines) // 2)
    return True


def render(digest: Digest, ready: Sequence[WorkItemSummary], generated_at: datetime) -> str:
    sections = {
        "changes": _changes(digest) if digest.since is not None else [],
        "vendors": _vendors(digest),
        "items": _items(digest, ready),
    }
    at = timestamp(generated_at)
    text = _fill(sections, at, digest)
    while len(text) > LIMIT and _shorten(sections):
        text = _fill(sections, at, digest)
    return text
