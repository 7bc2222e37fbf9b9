"""The parser on the legacy fixture and on hostile input: everything read or reported by
line number, never an exception, never a silent drop."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worktrack.report import escape, files
from worktrack.report.parse import parse

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"  # the legacy layout's sample files
LEGACY_TEXT = (LEGACY / ".project_status.md").read_text(encoding="utf-8")
EXPECTED: dict[str, Any] = json.loads((LEGACY / "expected.json").read_text(encoding="utf-8"))


def _quarter(text: str) -> str:
    """``Q4 2026`` → ``2026-Q4`` (what the importer will do; the parser keeps what is written)."""
    found = re.fullmatch(r"Q([1-4]) (\d{4})", text)
    return f"{found[2]}-Q{found[1]}" if found else text


def test_legacy_vendors() -> None:
    parsed = parse(LEGACY_TEXT)
    assert parsed.errors == []
    assert parsed.generated_at == datetime(2025, 10, 10, 14, 30, tzinfo=UTC)
    assert len(parsed.vendors) == EXPECTED["vendors"] == 12
    assert sum(v.status == "operational" for v in parsed.vendors) == EXPECTED["operational"]
    for vendor, expected in zip(parsed.vendors, EXPECTED["vendor_records"], strict=True):
        assert (vendor.id, vendor.version) == (None, None)
        assert vendor.name == expected["name"] and vendor.status == expected["status"]
        assert (vendor.passing, vendor.total) == (expected["passing"], expected["total"])
        assert vendor.skipped == expected["skipped"]
        assert vendor.extractor_version == expected["version"]
        assert vendor.formats == expected["formats"]


def test_legacy_work_items_with_parents_by_nesting_and_by_parent_lines() -> None:
    items = parse(LEGACY_TEXT).work_items
    assert len(items) == EXPECTED["work_items"] == 10
    for item, expected in zip(items, EXPECTED["item_records"], strict=True):
        assert (item.title, item.item_type, item.status, item.depth) == (
            expected["title"],
            expected["item_type"],
            expected["status"],
            expected["depth"],
        )
        by_nesting = items[item.parent_index].title if item.parent_index is not None else None
        assert by_nesting == expected["parent"]
        assert item.parent_title == expected["parent"]  # the legacy "- **Parent**:" line
        assert item.parent_id is None and item.created_at is not None
    assert items[4].branch == "feature/invoice-89"
    assert items[0].created_at == datetime(2025, 4, 17, 14, 30, tzinfo=UTC)


def test_legacy_deployments_and_enhancements() -> None:
    parsed = parse(LEGACY_TEXT)
    assert len(parsed.deployments) == EXPECTED["deployments"] == 6
    for deployment, expected in zip(
        parsed.deployments, EXPECTED["deployment_records"], strict=True
    ):
        assert deployment.pr_number == expected["pr_number"]
        assert deployment.commit == expected["commit"]
        assert list(deployment.vendors) == expected["vendors"]
        assert deployment.tests == expected["tests"]
        assert deployment.compliance is expected["compliance"]
        assert deployment.title
    assert parsed.deployments[0].deployed_at == datetime(2025, 10, 9, 21, 30, tzinfo=UTC)

    assert len(parsed.enhancements) == EXPECTED["enhancements"] == 4
    records = EXPECTED["enhancement_records"]
    for enhancement, expected in zip(parsed.enhancements, records, strict=True):
        assert enhancement.title == expected["title"]
        assert (enhancement.priority, enhancement.status) == (
            expected["priority"],
            expected["status"],
        )
        assert _quarter(enhancement.target or "") == expected["target_quarter"]
        assert enhancement.description
    assert [e.target for e in parsed.enhancements] == ["2026-Q4", "Q4 2026", "2027-Q1", "Q3 2026"]


def test_legacy_file_with_bom_and_crlf_reads_the_same() -> None:
    plain = parse(LEGACY_TEXT)
    windows = parse("\ufeff" + LEGACY_TEXT.replace("\n", "\r\n"))
    assert windows.errors == []
    assert windows.vendors == plain.vendors and windows.work_items == plain.work_items
    assert windows.deployments == plain.deployments
    assert windows.enhancements == plain.enhancements


def _lines_with(text: str, insertions: dict[int, str]) -> str:
    """``text`` with lines inserted before the given (1-based, original) line numbers."""
    lines = text.split("\n")
    for number in sorted(insertions, reverse=True):
        lines.insert(number - 1, insertions[number])
    return "\n".join(lines)


def test_conflict_markers_are_reported_with_their_line_numbers() -> None:
    hostile = _lines_with(
        LEGACY_TEXT,
        {6: "<<<<<<< HEAD", 7: "=======", 8: ">>>>>>> feature/vendors"},
    )
    parsed = parse(hostile)
    assert [(n, message.split(":")[0]) for n, message in parsed.errors] == [
        (6, "git conflict marker"),
        (8, "git conflict marker"),
        (10, "git conflict marker"),
    ]
    assert len(parsed.vendors) == 12  # everything else still read


def test_junk_and_broken_lines_are_reported_never_dropped() -> None:
    broken_heading = LEGACY_TEXT.replace(
        "### 2025-10-06 20:30:00 UTC - PR #105", "### not a deployment heading"
    )
    hostile = _lines_with(
        broken_heading,
        {
            2: "stray preamble text",
            6: "this is not a vendor",
            30: "- **Owner**: someone",  # a field work items do not have
            31: "      ### Jumped two levels (task)",
        },
    )
    lines = hostile.split("\n")

    def at(line: str) -> int:
        return lines.index(line) + 1

    reasons: dict[int, list[str]] = {}
    for number, message in parse(hostile).errors:
        reasons.setdefault(number, []).append(message)
    assert reasons.pop(at("stray preamble text")) == [
        "text outside any known section: stray preamble text"
    ]
    assert reasons.pop(at("this is not a vendor")) == [
        "not part of a vendor entry: this is not a vendor"
    ]
    assert reasons.pop(at("- **Owner**: someone")) == [
        "a work item has no field 'Owner': - **Owner**: someone"
    ]
    assert reasons.pop(at("      ### Jumped two levels (task)")) == [
        "indented other than two spaces below its parent"
    ]
    # Its own fields are taken; the next line at the outer indentation belongs to nothing.
    assert reasons.pop(at("      ### Jumped two levels (task)") + 1) == [
        "not part of a work item entry: - **Created**: 2025-04-17 14:30:00 UTC"
    ]
    assert reasons.pop(at("## Active Work Items (10)")) == [
        "the heading counts 10 entries, 11 follow"
    ]
    heading = at("### not a deployment heading")
    assert reasons.pop(heading)[0].startswith("expected '### <YYYY-MM-DD HH:MM:SS> UTC - PR #<n>'")
    assert reasons.pop(at("## Recent Deployments (Last 6)")) == [
        "the heading counts 6 entries, 5 follow"
    ]
    assert set(reasons) == set(range(heading + 1, heading + 5))  # its fields: not attributed


def test_counts_that_do_not_match_the_headings_are_reported() -> None:
    dropped = LEGACY_TEXT.replace("- **vendor_007**: operational (5/14 tests) [ocr]\n", "")
    parsed = parse(dropped)
    assert parsed.errors == [
        (3, "the heading counts 10 operational vendors, 9 follow"),
        (3, "the heading counts 12 vendors, 11 follow"),
    ]


def test_malformed_ids_dates_and_values() -> None:
    text = "\n".join(
        [
            "# Project Status - yesterday",
            "## Operational Vendors (1/1)",
            "- **A**: operational <!-- id:nope -->",
            "  (1/2 tests, x skipped)",
            "  [excel, csv",
            "## Active Work Items (1)",
            "### T (task) <!-- id:abc v:1 -->",
            "- **Created**: 2026-13-45 10:00:00 UTC",
            "## Recent Deployments (Last 1)",
            "### 2026-01-01 10:00:00 UTC - PR #1",
            "- **Constitutional Compliance**: yes",
            "- **Tests**: unit",
            "## Future Enhancements (1)",
            "### E (Priority: high)",
            "## Unknown Section",
            "anything",
        ]
    )
    parsed = parse(text)
    assert [number for number, _ in parsed.errors] == [1, 3, 4, 5, 8, 11, 12, 13, 14, 15, 16]
    assert parsed.vendors[0].name == "A" and parsed.vendors[0].id is None
    assert parsed.work_items[0].id == "abc" and parsed.work_items[0].created_at is None


PATHOLOGICAL = {
    "one 1 MB line": "x" * 1_000_000,
    "backticks": "`" * 1_000_000,
    "emphasis soup": "__*_" * 250_000,
    "nested quotes": ">" * 1_000_000,
    "backslashes": "- **" + "\\" * 1_000_000 + "**: operational",
    "many bold markers": "- **" + "a**: " * 200_000,
    "id comment soup": "### t (task)" + " <!-- id:" * 100_000,
    "digits": "## Operational Vendors (" + "9" * 1_000_000 + "/1)",
    "brackets": "- **v**: operational (1/2 tests) [" + "[" * 1_000_000,
    "escaped commas": "- **Vendors**: " + "\\," * 500_000,
}


@pytest.mark.parametrize("line", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_lines_end_in_errors_not_exceptions(line: str) -> None:
    for section in ("", "## Operational Vendors (0/0)", "## Recent Deployments (Last 0)"):
        text = f"# Project Status - 2026-01-01T00:00:00+00:00\n{section}\n{line}\n"
        parsed = parse(text)
        entities = [*parsed.vendors, *parsed.work_items, *parsed.deployments, *parsed.enhancements]
        errors = [number for number, _ in parsed.errors]
        assert 3 in errors or [entity.line for entity in entities] == [3]  # reported or read
        assert all(len(message) < 200 for _, message in parsed.errors)


def test_a_megabyte_of_report_lines_parses() -> None:
    entry = "- **vendor**: operational\n  (1/2 tests, 0 skipped)\n  [excel, csv] v1\n"
    count = 1_000_000 // len(entry)
    text = f"## Operational Vendors ({count}/{count})\n" + entry * count
    parsed = parse(text)
    assert parsed.errors == [] and len(parsed.vendors) == count


def test_bytes_that_are_not_utf8_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "status.md"
    path.write_bytes(LEGACY_TEXT.encode().replace(b"vendor_004", b"vendor_\xff04", 1))
    text = files.read(path)
    assert text is not None
    parsed = parse(text)
    assert parsed.errors == [(10, "bytes that were not UTF-8 (read as U+FFFD)")]
    assert len(parsed.vendors) == 12


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_parses_to_entities_or_errors(text: str) -> None:
    parsed = parse(text)
    lines = len(text.removeprefix("\ufeff").split("\n"))
    assert all(1 <= number <= lines for number, _ in parsed.errors)


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        ("plain", "plain"),
        ("a\\b", "a\\\\b"),
        ("two\nlines\tand tab", "two\\nlines\\tand tab"),
        ("<!-- hidden -->", "<\\!-- hidden -->"),
        ("<<!---", "<<\\!---"),
        ("rtl\u202eoverride", "rtl\\u202eoverride"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("café 😀 שלום", "café 😀 שלום"),
        ("\ufffd", "\\ufffd"),
        ("\\u202e", "\\\\u202e"),
    ],
)
def test_inline_escapes_and_unescape_reverses(raw: str, written: str) -> None:
    assert escape.inline(raw) == written
    assert escape.unescape(written) == raw


def test_list_items_escape_their_separators() -> None:
    names = ["Acme, Inc.", "a]b", " lead", "", "x\\,y"]
    joined = ", ".join(escape.list_item(name) for name in names)
    assert joined == "Acme\\, Inc., a\\]b,  lead, , x\\\\\\,y"
    assert escape.split_list(joined) == names


def test_unescape_keeps_backslashes_it_does_not_know() -> None:
    assert escape.unescape("C:\\path\\u12 \\x") == "C:\\path\\u12 \\x"
    assert escape.unescape("\\U0011ffff") == "\\U0011ffff"  # beyond Unicode: kept as written
