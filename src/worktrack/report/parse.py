"""Read a status file back: the reports ``render`` writes and the legacy layout (contract §7).

One pass over the lines, each line attributed to the entity it belongs to or reported in
``errors`` with its number: a line is never dropped silently (conflict markers included).
Every pattern is anchored with bounded repeats and ids are found with ``rfind``, so the
work stays linear in the size of the input, whatever it holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from worktrack.report import fields
from worktrack.report.escape import has_damage, inline, unescape
from worktrack.report.fields import Bad
from worktrack.report.parsed import (
    ParsedChange,
    ParsedDeployment,
    ParsedEnhancement,
    ParsedStatus,
    ParsedVendor,
    ParsedWorkItem,
)

__all__ = ["ParsedStatus", "parse"]

_CONFLICT_MARKERS = ("<<<<<<<", "=======", ">>>>>>>")
_TITLE = "Project Status - "
_CHANGES = "Changes Since "
_SECTIONS = {
    "vendors": re.compile(r"Operational Vendors \(([0-9]{1,9})/([0-9]{1,9})\)"),
    "work_items": re.compile(r"Active Work Items \(([0-9]{1,9})\)"),
    "deployments": re.compile(r"Recent Deployments \(Last ([0-9]{1,9})\)"),
    "enhancements": re.compile(r"Future Enhancements \(([0-9]{1,9})\)"),
}
# Drawn for people (mermaid), not read back: its lines are skipped.
_GRAPH = "Dependency Graph"
_SUBSECTION = re.compile(r"(Completed|Created|Blocked|Deployments) \(([0-9]{1,9})\)")
_FOOTER = re.compile(r"\*Generated at (.{1,64})\*")
_EXCERPT = 60


def parse(markdown: str) -> ParsedStatus:
    reader = _Reader()
    for number, line in enumerate(markdown.removeprefix("\ufeff").split("\n"), start=1):
        try:
            reader.line(number, line.removesuffix("\r"))
        except Bad as bad:
            excerpt = inline(line[:_EXCERPT]) + ("…" if len(line) > _EXCERPT else "")
            reader.errors.append((number, f"{bad.reason}: {excerpt}"))
    return reader.finish()


@dataclass
class _Count:
    """A heading's count, checked against the entries that follow it."""

    line: int
    label: str
    declared: int
    entries: list[Any]
    start: int
    operational_only: bool = False

    def error(self) -> tuple[int, str] | None:
        listed = self.entries[self.start :]
        if self.operational_only:
            listed = [vendor for vendor in listed if vendor.status == "operational"]
        if len(listed) == self.declared:
            return None
        return self.line, f"the heading counts {self.declared} {self.label}, {len(listed)} follow"


class _Reader:
    def __init__(self) -> None:
        self.generated_at: datetime | None = None
        self.changes_since: datetime | None = None
        self.vendors: list[ParsedVendor] = []
        self.items: list[ParsedWorkItem] = []
        self.deployments: list[ParsedDeployment] = []
        self.enhancements: list[ParsedEnhancement] = []
        self.changes: list[ParsedChange] = []
        self.errors: list[tuple[int, str]] = []
        self.section = "preamble"
        self.subsection: str | None = None
        self.open = False  # the section's last entity takes the lines that follow it
        self.indent = 0  # of the open work item's lines
        self.nesting: list[int] = []  # indexes of the work items enclosing the next one
        self.counts: list[_Count] = []

    def finish(self) -> ParsedStatus:
        self._check_counts()
        return ParsedStatus(
            generated_at=self.generated_at,
            vendors=self.vendors,
            work_items=self.items,
            deployments=self.deployments,
            enhancements=self.enhancements,
            changes_since=self.changes_since,
            changes=self.changes,
            errors=sorted(self.errors, key=lambda error: error[0]),
        )

    def line(self, number: int, line: str) -> None:
        if line.startswith(_CONFLICT_MARKERS):
            raise Bad("git conflict marker: the file holds an unresolved merge")
        if has_damage(line):
            self.errors.append((number, "bytes that were not UTF-8 (read as U+FFFD)"))
        if not line.strip():
            return
        if line.startswith("# "):
            self._title(line[2:])
        elif line.startswith("## "):
            self._section(number, line[3:])
        elif line == "---":
            self._enter("footer")
        elif self.section == "vendors":
            self._vendor(number, line)
        elif self.section == "work_items":
            self._work_item(number, line)
        elif self.section == "deployments":
            self._entry(number, line, self.deployments, fields.deployment, fields.DEPLOYMENT)
        elif self.section == "enhancements":
            self._entry(number, line, self.enhancements, fields.enhancement, fields.ENHANCEMENT)
        elif self.section == "changes":
            self._change(number, line)
        elif self.section == "footer":
            self._footer(line)
        elif self.section == "graph":
            return
        else:
            raise Bad("text outside any known section")

    def _title(self, text: str) -> None:
        if not text.startswith(_TITLE):
            raise Bad("expected '# Project Status - <timestamp>'")
        if self.section != "preamble" or self.generated_at is not None:
            raise Bad("a second title heading")
        self.generated_at = fields.timestamp(text[len(_TITLE) :])

    def _enter(self, section: str) -> None:
        self._check_counts()
        self.section, self.subsection, self.open, self.nesting = section, None, False, []

    def _check_counts(self) -> None:
        self.errors += [error for count in self.counts if (error := count.error())]
        self.counts = []

    def _section(self, number: int, text: str) -> None:
        if text.startswith(_CHANGES):
            self._enter("changes")
            self.changes_since = fields.timestamp(text[len(_CHANGES) :])
            return
        if text == _GRAPH:
            self._enter("graph")
            return
        for section, pattern in _SECTIONS.items():
            if found := pattern.fullmatch(text):
                self._enter(section)
                declared = [int(n) for n in found.groups()]
                if section == "vendors":
                    self._expect(number, "operational vendors", declared[0], self.vendors, True)
                    self._expect(number, "vendors", declared[1], self.vendors)
                else:
                    self._expect(number, "entries", declared[0], self._entries(section))
                return
        self._enter("unknown")
        raise Bad("unknown section")

    def _entries(self, section: str) -> list[Any]:
        if section == "work_items":
            return self.items
        return self.deployments if section == "deployments" else self.enhancements

    def _expect(
        self, number: int, label: str, declared: int, entries: list[Any], operational: bool = False
    ) -> None:
        self.counts.append(_Count(number, label, declared, entries, len(entries), operational))

    def _footer(self, line: str) -> None:
        found = _FOOTER.fullmatch(line)
        if found is None:
            raise Bad("unexpected text after the '---' footer rule")
        at = fields.timestamp(found.group(1))
        self.generated_at = self.generated_at or at

    def _ident(self, number: int, text: str) -> tuple[str, str | None, int | None]:
        """``text`` without its trailing id comment, and the id and version it gives."""
        body, (entity_id, version), malformed = fields.split_ident(text)
        if malformed:
            self.errors.append((number, "malformed id comment"))
        return body, entity_id, version

    def _vendor(self, number: int, line: str) -> None:
        if line.startswith("- **"):
            self.open = False
            body, entity_id, version = self._ident(number, line)
            self.vendors.append(fields.vendor(number, body[4:], entity_id, version))
            self.open = True
        elif line.startswith("  ") and self.open:
            self.vendors[-1] = fields.vendor_detail(self.vendors[-1], line[2:])
        else:
            raise Bad("not part of a vendor entry")

    def _work_item(self, number: int, line: str) -> None:
        content = line.lstrip(" ")
        indent = len(line) - len(content)
        if content.startswith("### "):
            self.open = False
            self._item_heading(number, indent, content[4:])
            self.open, self.indent = True, indent
        elif content.startswith("- **") and self.open and indent == self.indent:
            key, value = fields.split_field(content)
            self.items[-1] = fields.apply(fields.WORK_ITEM, "work item", self.items[-1], key, value)
        else:
            raise Bad("not part of a work item entry")

    def _item_heading(self, number: int, indent: int, text: str) -> None:
        body, entity_id, version = self._ident(number, text)
        title, item_type = fields.title_and_type(body)
        while self.nesting and self.items[self.nesting[-1]].depth >= indent // 2:
            self.nesting.pop()
        parent = self.items[self.nesting[-1]] if self.nesting else None
        depth = parent.depth + 1 if parent else 0
        if indent != 2 * depth:
            self.errors.append((number, "indented other than two spaces below its parent"))
        item = ParsedWorkItem(number, entity_id, version, title, item_type, depth)
        if parent is not None:
            item = replace(item, parent_id=parent.id, parent_index=self.nesting[-1])
        self.nesting.append(len(self.items))
        self.items.append(item)

    def _entry(
        self,
        number: int,
        line: str,
        entries: list[Any],
        heading: Callable[[int, str, str | None, int | None], Any],
        setters: dict[str, fields.Setter],
    ) -> None:
        """A deployment or enhancement: a ``###`` heading, then ``- **Field**:`` lines."""
        if line.startswith("### "):
            self.open = False
            body, entity_id, version = self._ident(number, line[4:])
            entries.append(heading(number, body, entity_id, version))
            self.open = True
        elif line.startswith("- **") and self.open:
            key, value = fields.split_field(line)
            entries[-1] = fields.apply(setters, self.section[:-1], entries[-1], key, value)
        else:
            raise Bad(f"not part of a {self.section[:-1]} entry")

    def _change(self, number: int, line: str) -> None:
        if line.startswith("### "):
            self._check_counts()  # each subsection counts its own entries
            self.subsection = None
            found = _SUBSECTION.fullmatch(line[4:])
            if found is None:
                raise Bad("unknown kind of change")
            self.subsection = found.group(1).lower()
            self._expect(number, "changes", int(found.group(2)), self.changes)
        elif line.startswith("- ") and self.subsection is not None:
            body, entity_id, version = self._ident(number, line[2:])
            change = ParsedChange(number, self.subsection, entity_id, version, unescape(body))
            self.changes.append(change)
        else:
            raise Bad("not part of a change entry")
