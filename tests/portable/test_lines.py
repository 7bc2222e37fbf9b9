"""The export's lines: one canonical spelling of a row, and every bad line refused by number."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from worktrack.portable import lines
from worktrack.portable.kinds import BY_NAME

WHEN = datetime(2026, 11, 22, 10, 15, 0, 123456, tzinfo=UTC)
VENDOR = {
    "id": "3f6b1c1e-0000-4000-8000-000000000001",
    "version": 3,
    "name": "Ünï vendor 🚀 \u2028 «x»",
    "name_key": "ünï vendor 🚀 \u2028 «x»",
    "status": "operational",
    "extractor_version": "1.0",
    "metadata": {
        "z": [0.1, 1e-07, 3, True, None, {"b": 1, "a": "\t"}],
        "format_support": {"ocr": False, "csv": True},
    },
    "created_at": WHEN,
    "updated_at": WHEN.astimezone(timezone(timedelta(hours=2))),
    "created_by": "ada",
    "updated_by": "bob",
}


def _line(kind: str, row: dict[str, Any]) -> str:
    return lines.encode(BY_NAME[kind], [row[name] for name in BY_NAME[kind].columns])


def test_a_line_is_canonical() -> None:
    line = _line("vendor", VENDOR)
    assert line.startswith('{"kind":"vendor","created_at":"2026-11-22T10:15:00.123456+00:00",')
    assert '"updated_at":"2026-11-22T10:15:00.123456+00:00"' in line  # UTC, whatever came in
    flags = '"metadata":{"format_support":{"csv":true,"ocr":false},'
    assert flags + '"z":[0.1,1e-07,3,true,null,' in line
    assert '{"a":"\\t","b":1}' in line  # nested keys sorted too
    assert "Ünï vendor 🚀 \u2028 «x»" in line  # UTF-8, not \u escapes; U+2028 stays inside
    assert " " not in line.replace(VENDOR["name"], "").replace(VENDOR["name_key"], "")
    assert "\n" not in line
    keys = list(json.loads(line))
    assert keys[0] == "kind" and keys[1:] == sorted(keys[1:])


def test_a_line_reads_back_as_the_row() -> None:
    kind, row = lines.decode(7, _line("vendor", VENDOR))
    assert kind is BY_NAME["vendor"]
    assert row == VENDOR
    assert row["updated_at"].utcoffset() == timedelta(0)


def test_the_header() -> None:
    text = lines.header("0004", WHEN)
    assert text == (
        '{"kind":"worktrack-export","exported_at":"2026-11-22T10:15:00.123456+00:00",'
        '"format":1,"schema_revision":"0004"}'
    )
    assert lines.read_header(1, text) == lines.Header("0004", WHEN)


def _vendor_line(**changes: Any) -> str:
    fields = json.loads(_line("vendor", VENDOR))
    for name, value in changes.items():
        if value is _GONE:
            del fields[name]
        else:
            fields[name] = value
    return json.dumps(fields, ensure_ascii=False)


_GONE = object()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "an empty line"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"kind": "sprint"}', "unknown kind 'sprint'"),
        ('{"id": 1}', "unknown kind None"),
        (_vendor_line(version=_GONE), "vendor fields: missing version"),
        (_vendor_line(colour="red"), "vendor fields: unknown colour"),
        (_vendor_line(version="3"), "version: '3' is not an integer"),
        (_vendor_line(version=True), "version: True is not an integer"),
        (_vendor_line(version=None), "version must not be null"),
        (_vendor_line(name=7), "name: 7 is not a string"),
        (_vendor_line(name="x" * 101), "name: longer than 100 characters"),
        (_vendor_line(created_at="yesterday"), "created_at: 'yesterday' is not an ISO-8601"),
        (_vendor_line(created_at="2026-11-22T10:15:00"), "is not an ISO-8601 timestamp with off"),
    ],
)
def test_a_bad_line_is_refused_by_number(text: str, reason: str) -> None:
    with pytest.raises(lines.MalformedLine) as refused:
        lines.decode(12, text)
    assert refused.value.number == 12
    assert reason in str(refused.value) and str(refused.value).startswith("line 12: ")


def test_a_wrong_boolean_and_a_null_where_allowed() -> None:
    config = {
        "id": 1,
        "version": 1,
        "active_context_type": "feature",
        "current_session_id": None,
        "git_branch": None,
        "git_head_commit": None,
        "default_token_budget": 200_000,
        "database_healthy": True,
        "last_health_check_at": None,
        "updated_at": WHEN,
        "updated_by": "ada",
    }
    assert lines.decode(2, _line("configuration", config))[1] == config
    bad = _line("configuration", config).replace('"database_healthy":true', '"database_healthy":1')
    with pytest.raises(lines.MalformedLine, match="database_healthy: 1 is not true or false"):
        lines.decode(2, bad)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"kind": "vendor"}', "not the header"),
        ('{"kind": "worktrack-export", "format": 1}', "the header's fields are"),
        (
            '{"kind": "worktrack-export", "format": 2, "schema_revision": "0004", '
            '"exported_at": "2026-11-22T10:15:00+00:00"}',
            "format 2: this worktrack reads format 1",
        ),
        (
            '{"kind": "worktrack-export", "format": 1, "schema_revision": 4, '
            '"exported_at": "2026-11-22T10:15:00+00:00"}',
            "schema_revision must be a string",
        ),
        (
            '{"kind": "worktrack-export", "format": 1, "schema_revision": "0004", '
            '"exported_at": "now"}',
            "exported_at: 'now'",
        ),
    ],
)
def test_a_bad_header_is_refused(text: str, reason: str) -> None:
    with pytest.raises(lines.MalformedLine, match=reason):
        lines.read_header(1, text)
