"""Types shared by every boundary model: checked input text, revealed output text, the
result envelope, and the bridge from pydantic errors to ``ValidationError``.

Numbers must be finite (JSON has no NaN or infinity, and a database would store them as
null) and digit patterns are written ``[0-9]``: a regex ``\\d`` also matches other
scripts' digits (``٢٠٢٦-Q1``). Errors are written for people: lengths in characters, ids
and quarters by their rule, not by their regex.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from worktrack.db import DataSource as DataSource
from worktrack.errors import ValidationError
from worktrack.text import control_character, escape_code, json_strings, reveal, reveal_json

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BYTES = 65_536
MAX_JSON_DEPTH = 12


def _no_controls(value: str) -> str:
    bad = control_character(value)
    if bad is not None:
        raise ValueError(
            f"control character {escape_code(bad)} is not allowed (only newline and tab)"
        )
    return value


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """The first NaN or infinity in ``value`` and its path (``a.b.0``), else None.

    Iterative, so no nesting can exhaust the interpreter's stack."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        current, where = pending.pop()
        if isinstance(current, float) and not math.isfinite(current):
            return where, current
        if isinstance(current, dict):
            items: Any = current.items()
        elif isinstance(current, list):
            items = enumerate(current)
        else:
            continue
        pending.extend((item, f"{where}.{key}" if where else str(key)) for key, item in items)
    return None


def finite_rule(value: float) -> str:
    return f"{value} is not allowed: numbers must be finite (no NaN or infinity)"


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    for text in json_strings(value):
        _no_controls(text)
    found = non_finite(value)
    if found is not None:
        raise ValueError(f"at {found[0]}: {finite_rule(found[1])}")
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES} bytes as JSON")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be only whitespace")
    return value


def _one_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        raise ValueError("must be a single line (no newline or tab)")
    return value


# Input: text with no control characters other than newline and tab.
Text = Annotated[str, AfterValidator(_no_controls)]
NotBlank = AfterValidator(_not_blank)
OneLine = AfterValidator(_one_line)
JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
# Output: invisible and bidi characters shown as \uXXXX so stored text hides nothing.
Shown = Annotated[str, PlainSerializer(reveal, return_type=str, when_used="json")]
ShownJson = Annotated[
    dict[str, Any], PlainSerializer(reveal_json, return_type=dict[str, Any], when_used="json")
]

# Output timestamps: ISO-8601 with an explicit +00:00 offset (pydantic would write "Z").
Timestamp = Annotated[
    datetime, PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json")
]

ID_REGEX = r"[0-9a-fA-F][0-9a-fA-F-]{7,35}"  # a UUID or a prefix of 8+ hex characters
QUARTER_REGEX = r"[0-9]{4}-Q[1-4]"
COMMIT_REGEX = r"[0-9a-f]{40}"
Quarter = Annotated[str, Field(pattern=f"^{QUARTER_REGEX}$", description="YYYY-Qn")]
CommitHash = Annotated[str, Field(pattern=f"^{COMMIT_REGEX}$")]
# Update arguments where "" clears the stored value.
ClearableCommit = Annotated[str, Field(pattern=f"^({COMMIT_REGEX})?$")]
ClearableId = Annotated[str, Field(pattern=f"^({ID_REGEX})?$")]
IdRef = Annotated[str, Field(pattern=f"^{ID_REGEX}$", description="id or 8+ char prefix")]
Actor = Annotated[Text, Field(min_length=1, max_length=100)]
RequestId = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=100,
        description="idempotency key",
    ),
]
Cursor = Annotated[str, Field(max_length=400, description="next_cursor of the previous page")]


def _is_none(value: object) -> bool:
    return value is None


class Envelope(BaseModel):
    """Where a result came from. Unset (and left out) on entities nested in a result."""

    model_config = ConfigDict(frozen=True)

    data_source: DataSource | None = Field(default=None, exclude_if=_is_none)
    warnings: list[str] | None = Field(default=None, exclude_if=_is_none)
    queued: bool | None = Field(default=None, exclude_if=_is_none)


def stamp(result: M, source: DataSource, warnings: list[str] | None = None) -> M:
    """Fill in the envelope of a top-level result (warnings the service gave come first)."""
    given = getattr(result, "warnings", None) or []
    return result.model_copy(
        update={"data_source": source, "warnings": [*given, *(warnings or [])]}
    )


def entity_json(model: BaseModel) -> dict[str, Any]:
    """An entity as stored (envelope left out): for errors, history and idempotency."""
    return model.model_dump(mode="json", exclude={"data_source", "warnings", "queued"})


_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "function-after"}


def _is_field(part: str | int) -> bool:
    """Loc parts that name a field or index, not a union branch such as ``int``."""
    return isinstance(part, int) or ("[" not in part and part not in _TYPE_TAGS)


def _id_rule(value: Any) -> str:
    if isinstance(value, str) and len(value) < 8:
        return "ids and prefixes need at least 8 hex characters"
    if isinstance(value, str) and len(value) > 36:
        return "an id has at most 36 characters"
    return "ids and prefixes are hex characters (0-9, a-f) and dashes, starting with a hex one"


_PATTERN_RULES = (
    (ID_REGEX, _id_rule),
    (QUARTER_REGEX, lambda _value: "a quarter as YYYY-Qn in ASCII digits, e.g. 2026-Q1"),
    (COMMIT_REGEX, lambda _value: "a full commit hash: 40 lowercase hex characters"),
)


def _rule(problem: Any) -> str:
    """What the caller broke, in words (pydantic's own message where it is clear)."""
    kind, ctx, given = problem["type"], problem.get("ctx", {}), problem.get("input")
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "string_pattern_mismatch":
        for regex, rule in _PATTERN_RULES:
            if regex in ctx["pattern"]:
                return rule(given)
    if kind in ("too_long", "too_short") and isinstance(given, str):
        bound = "at most" if kind == "too_long" else "at least"
        limit = ctx["max_length" if kind == "too_long" else "min_length"]
        return f"{bound} {limit} character{'' if limit == 1 else 's'}, not {len(given)}"
    if kind == "finite_number":
        return finite_rule(given)
    return str(problem["msg"])


def to_validation_error(error: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    first = error.errors(include_url=False)[0]
    path = ".".join(str(part) for part in first["loc"] if _is_field(part))
    field = ".".join(part for part in (prefix, path) if part) or "arguments"
    return ValidationError(field, _rule(first))


def validate_as(model: type[M], data: Any, prefix: str) -> M:
    try:
        return model.model_validate(data, strict=True)
    except pydantic.ValidationError as error:
        raise to_validation_error(error, prefix) from None
