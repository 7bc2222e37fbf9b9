from __future__ import annotations

import pytest

from worktrack import text


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("ok\n\ttabs", None),
        ("nul\x00", "\x00"),
        ("bell\x07", "\x07"),
        ("cr\r", "\r"),
        ("del\x7f", "\x7f"),
        ("c1\x85", "\x85"),
    ],
)
def test_control_characters(value: str, bad: str | None) -> None:
    assert text.control_character(value) == bad


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("a\u202eb", "a\\u202eb"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("bom\ufeff", "bom\\ufeff"),
        ("café 😀", "café 😀"),
        ("line\u2028sep", "line\\u2028sep"),
    ],
)
def test_reveal(raw: str, shown: str) -> None:
    assert text.reveal(raw) == shown


def test_reveal_json_reaches_keys_and_nested_values() -> None:
    value = {"k\u200b": ["v\u202e", {"n": "x\u2066"}], "n": 1}
    assert text.reveal_json(value) == {"k\\u200b": ["v\\u202e", {"n": "x\\u2066"}], "n": 1}


def test_search_text_folds_case_and_skips_keys() -> None:
    folded = text.search_text("Straße", {"Key": ["Wert", {"inner": "ÜBER"}], "n": 3})
    assert folded == "strasse\nwert\nüber"


@pytest.mark.parametrize(
    ("needle", "pattern"),
    [("100%", "%100\\%%"), ("a_b", "%a\\_b%"), ("back\\", "%back\\\\%"), ("Ab", "%ab%")],
)
def test_like_contains_escapes(needle: str, pattern: str) -> None:
    assert text.like_contains(needle) == pattern
