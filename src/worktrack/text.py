"""Rules for stored text: what may go in, how it is shown, how it is searched."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

_ALLOWED_CONTROLS = {"\n", "\t"}
# Characters that render as nothing or reorder what follows: a reader cannot see them, so
# stored text could hide instructions behind them. Cf covers bidi overrides, zero-width
# characters and Unicode tags; the rest are invisible fillers, separators and the
# default-ignorable marks outside Cf (the combining grapheme joiner, Khmer and Mongolian
# inherent vowels and selectors). Variation selectors 17..256 carry no meaning in running
# text and can smuggle a byte each; VS1..16 are left alone, emoji need them.
_EXTRA_INVISIBLE = {
    "\u115f", "\u1160", "\u3164", "\uffa0", "\u2028", "\u2029",
    "\u034f", "\u17b4", "\u17b5", "\u180b", "\u180c", "\u180d", "\u180f",
}  # fmt: skip
_VARIATION_SELECTORS_SUPPLEMENT = range(0xE0100, 0xE01F0)


def is_invisible(char: str) -> bool:
    """True for the characters ``reveal`` shows as ``\\uXXXX``."""
    return (
        unicodedata.category(char) == "Cf"
        or char in _EXTRA_INVISIBLE
        or ord(char) in _VARIATION_SELECTORS_SUPPLEMENT
    )


def control_character(text: str) -> str | None:
    """Return the first forbidden control character in ``text``, if any."""
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS:
            return char
    return None


def escape_code(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def reveal(text: str) -> str:
    """Make invisible and bidirectional-control characters visible as ``\\uXXXX``."""
    if text.isascii():
        return text
    return "".join(escape_code(c) if is_invisible(c) else c for c in text)


def reveal_json(value: Any) -> Any:
    """``reveal`` every string, key or value, in a JSON-like structure."""
    if isinstance(value, str):
        return reveal(value)
    if isinstance(value, dict):
        return {reveal(str(k)): reveal_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal_json(v) for v in value]
    return value


def json_strings(value: Any, *, keys: bool = True) -> Iterator[str]:
    """Every string inside a JSON-like structure (its keys too, unless ``keys=False``)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                yield str(key)
            yield from json_strings(item, keys=keys)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item, keys=keys)


def search_text(*parts: Any) -> str:
    """The case-folded text a ``text`` filter matches: every string value, no keys."""
    return "\n".join(s for part in parts for s in json_strings(part, keys=False)).casefold()


def item_search_text(
    title: str, description: str | None, acceptance_criteria: str | None, metadata: Any
) -> str:
    """What a work item's ``text`` filter matches: its title, description, acceptance
    criteria and metadata values (not its labels, which have their own filter)."""
    return search_text(title, description, acceptance_criteria, metadata)


_LIKE_SPECIAL = re.compile(r"([\\%_])")


def like_contains(needle: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching ``needle`` literally anywhere."""
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", needle.casefold()) + "%"
