"""Compact JSON schemas for tools/list: every byte is paid on each session's first turn.

Inputs keep everything that guides a caller (types, enums, ranges, patterns,
descriptions) but drop pydantic's ``anyOf [X, null]`` wrapper and ``default: null`` on
optional arguments: omitting an argument already means "not given". Outputs name every
top-level field of the result; their values speak for themselves, and repeating pydantic's
types and ``$defs`` would cost more than every other part of the listing together. Both
stay truthful: every real call and result validates against them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]
_NULL = {"type": "null"}


def compact_input(schema: Schema) -> Schema:
    properties = {name: _optional_argument(prop) for name, prop in schema["properties"].items()}
    return {**schema, "properties": properties}


def _optional_argument(prop: Schema) -> Schema:
    options = prop.get("anyOf")
    if options and _NULL in options and len(options) == 2 and prop.get("default", 0) is None:
        inner = next(option for option in options if option != _NULL)
        prop = {**inner, **{k: v for k, v in prop.items() if k not in ("anyOf", "default")}}
    if prop.get("additionalProperties") is True:  # the JSON Schema default
        prop = {k: v for k, v in prop.items() if k != "additionalProperties"}
    return prop


def compact_output(model: type[BaseModel]) -> Schema:
    """An object schema naming every field the result may carry (values: any JSON).

    Read off the model's fields, not its generated JSON schema: the names are the same
    (the result models use no aliases, computed or excluded fields; a test compares them)
    and generating thirty schemas was a tenth of start-up."""
    return {"type": "object", "properties": {name: {} for name in model.model_fields}}
