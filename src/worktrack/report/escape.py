"""Stored text on one line of the status file, reversibly.

Stored text may hold newlines, tabs, markdown syntax, backslashes and invisible characters.
In the file every value must sit on one line, show its invisible characters (as ``reveal``
does for tool results), and never open an HTML comment: the entity id comments are the only
``<!--`` in a file, which is what lets the parser find them at the end of a line whatever a
title contains. The backslash is the escape character, so every sequence is unambiguous:

    \\\\  backslash      \\n newline      \\t tab      \\uXXXX / \\UXXXXXXXX a character
    <\\!--  a literal "<!--"      \\,  \\]  a comma or bracket inside a comma-separated list

``unescape`` reverses ``inline`` and ``list_item`` exactly. A backslash followed by anything
else is kept as written, so hand-written (legacy) files with plain backslashes still read.
"""

from __future__ import annotations

import re
import unicodedata

from worktrack.text import escape_code, is_invisible

_SIMPLE = {"\\": "\\\\", "\n": "\\n", "\t": "\\t"}
_UNSIMPLE = {"\\": "\\", "n": "\n", "t": "\t", "!": "!", ",": ",", "]": "]"}
_LIST_SPECIAL = ",]"
# What undecodable bytes become when a file is read; written escaped, so a raw one in a
# file means damage the parser can report.
_REPLACEMENT = "\ufffd"
_HEX = {"u": 4, "U": 8}
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")
_LIST_TOKEN = re.compile(r"\\.|,", re.DOTALL)
_BRACKET_TOKEN = re.compile(r"\\.|\]", re.DOTALL)


def _escaped(text: str, special: str) -> str:
    out: list[str] = []
    for char in text:
        if char in _SIMPLE:
            out.append(_SIMPLE[char])
        elif char in special:
            out.append("\\" + char)
        elif is_invisible(char) or char == _REPLACEMENT or unicodedata.category(char) == "Cc":
            out.append(escape_code(char))
        else:
            out.append(char)
    return "".join(out).replace("<!--", "<\\!--")


def inline(text: str) -> str:
    """``text`` as one line of the file."""
    # The common case, checked in C: printable ASCII without a backslash.
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text.replace("<!--", "<\\!--") if "<!" in text else text
    return _escaped(text, "")


def list_item(text: str) -> str:
    """``text`` as one element of a comma-separated list (or a ``[...]`` list)."""
    if "," in text or "]" in text:
        return _escaped(text, _LIST_SPECIAL)
    return inline(text)


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    start = 0
    while (slash := text.find("\\", start)) >= 0:
        out.append(text[start:slash])
        code = text[slash + 1 : slash + 2]
        width = _HEX.get(code)
        digits = text[slash + 2 : slash + 2 + width] if width else ""
        if width and len(digits) == width and _HEX_DIGITS.fullmatch(digits):
            value = int(digits, 16)
            if value <= 0x10FFFF:
                out.append(chr(value))
                start = slash + 2 + width
                continue
        if code in _UNSIMPLE:
            out.append(_UNSIMPLE[code])
            start = slash + 2
        else:
            out.append("\\")
            start = slash + 1
    out.append(text[start:])
    return "".join(out)


def split_list(text: str) -> list[str]:
    """The elements of a ``", "``-separated list of ``list_item`` values, unescaped."""
    parts: list[str] = []
    start = 0
    for token in _LIST_TOKEN.finditer(text):
        if token.group() == ",":
            parts.append(text[start : token.start()])
            start = token.end()
    parts.append(text[start:])
    return [
        unescape(part[1:] if n and part.startswith(" ") else part) for n, part in enumerate(parts)
    ]


def closing_bracket(text: str) -> int:
    """The index of the first ``]`` in ``text`` that is not escaped, or -1."""
    for token in _BRACKET_TOKEN.finditer(text):
        if token.group() == "]":
            return token.start()
    return -1


def has_damage(line: str) -> bool:
    """True when the line holds a raw U+FFFD: bytes that were not UTF-8 when read."""
    return _REPLACEMENT in line
