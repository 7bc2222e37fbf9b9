"""Types shared by every boundary model: checked input text, revealed output text, the
result envelope, and the bridge from pydantic errors to ``ValidationError``."""

from __future__ import annotations

import json
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


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    for text in json_strings(value):
        _no_controls(text)
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

Quarter = Annotated[str, Field(pattern=r"^\d{4}-Q[1-4]$", description="YYYY-Qn")]
CommitHash = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
# Update arguments where "" clears the stored value.
ClearableCommit = Annotated[str, Field(pattern=r"^([0-9a-f]{40})?$")]
ClearableId = Annotated[str, Field(pattern=r"^([0-9a-fA-F][0-9a-fA-F-]{7,35})?$")]
IdRef = Annotated[
    str, Field(pattern=r"^[0-9a-fA-F][0-9a-fA-F-]{7,35}$", description="id or 8+ char prefix")
]
Actor = Annotated[Text, Field(min_length=1, max_length=100)]
RequestId = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=100,
        description="retry key: a repeat returns the first result",
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
    """Fill in the envelope of a top-level result."""
    return result.model_copy(update={"data_source": source, "warnings": list(warnings or [])})


def entity_json(model: BaseModel) -> dict[str, Any]:
    """An entity as stored (envelope left out): for errors, history and idempotency."""
    return model.model_dump(mode="json", exclude={"data_source", "warnings", "queued"})


_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "function-after"}


def _is_field(part: str | int) -> bool:
    """Loc parts that name a field or index, not a union branch such as ``int``."""
    return isinstance(part, int) or ("[" not in part and part not in _TYPE_TAGS)


def to_validation_error(error: pydantic.ValidationError, prefix: str = "") -> ValidationError:
    first = error.errors(include_url=False)[0]
    path = ".".join(str(part) for part in first["loc"] if _is_field(part))
    field = ".".join(part for part in (prefix, path) if part) or "arguments"
    rule = str(first["ctx"]["error"]) if first["type"] == "value_error" else first["msg"]
    return ValidationError(field, rule)


def validate_as(model: type[M], data: Any, prefix: str) -> M:
    try:
        return model.model_validate(data, strict=True)
    except pydantic.ValidationError as error:
        raise to_validation_error(error, prefix) from None
