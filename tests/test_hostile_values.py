"""Values that look like numbers but are not: NaN and infinities (JSON has neither, and a
database would store them as null) and digits of other scripts (``٢٠٢٦-Q1``, which a
regex ``\\d`` and Python's ``int`` both accept). Every one is refused, naming the field;
and the errors about ids and lengths say the rule in words."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pydantic
import pytest
from fastmcp import Client

from worktrack.errors import ValidationError
from worktrack.legacy.normalise import NotNormal, quarter
from worktrack.limits import check_arguments
from worktrack.models.common import JsonObject, non_finite
from worktrack.report import fields
from worktrack.report.parse import parse

from helpers import call, fail

SOURCE = Path(__file__).parents[1] / "src" / "worktrack"
ARABIC_2026 = "\u0662\u0660\u0662\u0666"  # ٢٠٢٦
NON_FINITE = [math.nan, math.inf, -math.inf]


def test_no_pattern_in_the_package_uses_a_unicode_digit_class() -> None:
    """``\\d`` matches every script's digits; the package writes ``[0-9]``."""
    offenders = [
        f"{path.relative_to(SOURCE)}:{number}"
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\\d(?![a-z])", line) and not line.lstrip().startswith(("#", '"""'))
        and "``" not in line
    ]  # fmt: skip
    assert offenders == []


@pytest.mark.parametrize("value", NON_FINITE, ids=["nan", "inf", "-inf"])
def test_non_finite_numbers_are_found_anywhere(value: float) -> None:
    nested = {"a": [1, 2.5, {"b": value}], "c": "NaN"}
    found = non_finite(nested)
    assert found is not None and found[0] == "a.2.b"
    assert non_finite({"a": [1, 2.5, "inf"], "b": True}) is None
    with pytest.raises(ValidationError) as refused:
        check_arguments({"metadata": {"test_summary": {"unit": value}}})
    assert refused.value.field == "metadata.test_summary.unit"
    assert "numbers must be finite" in refused.value.constraint
    with pytest.raises(pydantic.ValidationError, match=r"at b\.0: .*must be finite"):
        pydantic.TypeAdapter(JsonObject).validate_python({"b": [value]})


@pytest.mark.parametrize(
    "text",
    [f"{ARABIC_2026}-Q1", f"Q1 {ARABIC_2026}", "２０２６-Q1"],
    ids=["arabic", "q-first", "fullwidth"],
)
def test_legacy_quarters_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(NotNormal):
        quarter(text)
    assert quarter("q1 2026") == "2026-Q1"


def test_the_status_file_parser_takes_ascii_digits_only() -> None:
    with pytest.raises(fields.Bad):
        fields.count("\u0664\u0665")  # ٤٥
    assert fields.count("45") == 45
    text = (
        "# Project Status - 2026-11-22T10:15:00+00:00\n\n## Operational Vendors (\u0661/\u0662)\n"
    )
    assert parse(text).errors != []


async def test_a_quarter_in_other_digits_is_refused(client: Client[Any]) -> None:
    error = await fail(client, "create_enhancement", title="t", target_quarter=f"{ARABIC_2026}-Q1")
    assert error["details"] == {
        "field": "target_quarter",
        "constraint": "a quarter as YYYY-Qn in ASCII digits, e.g. 2026-Q1",
    }
    made = await call(client, "create_enhancement", title="t", target_quarter="2026-Q1")
    assert made["target_quarter"] == "2026-Q1"


SHORT = "ids and prefixes need at least 8 hex characters"
NOT_HEX = "ids and prefixes are hex characters (0-9, a-f) and dashes, starting with a hex one"


@pytest.mark.parametrize(
    ("ref", "rule"),
    [
        ("abcdef1", SHORT),
        ("", SHORT),
        ("abcdefg1", NOT_HEX),
        ("-abcdef12", NOT_HEX),
        ("a" * 37, "an id has at most 36 characters"),
    ],
    ids=["seven", "empty", "not-hex", "dash-first", "too-long"],
)
async def test_id_errors_say_the_rule_in_words(client: Client[Any], ref: str, rule: str) -> None:
    error = await fail(client, "query_work_item", id=ref)
    assert error["details"] == {"field": "id", "constraint": rule}


async def test_length_errors_count_characters(client: Client[Any]) -> None:
    error = await fail(client, "create_work_item", item_type="task", title="x" * 201)
    assert error["details"] == {"field": "title", "constraint": "at most 200 characters, not 201"}
    error = await fail(client, "create_work_item", item_type="task", title="t", created_by="")
    assert error["details"] == {"field": "created_by", "constraint": "at least 1 character, not 0"}
    error = await fail(client, "create_vendor", name="v" * 101, extractor_version="1", metadata={})
    assert error["details"]["constraint"] == "at most 100 characters, not 101"
