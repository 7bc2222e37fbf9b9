from __future__ import annotations

from pydantic import BaseModel

from worktrack.schemas import compact_input, compact_output


def test_optional_arguments_lose_the_null_wrapper_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {
                "anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}],
                "default": None,
                "description": "d",
            },
            "b": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": 5},
            "c": {"type": "object", "additionalProperties": True},
            "d": {"type": "object", "additionalProperties": False},
        },
    }
    properties = compact_input(schema)["properties"]
    assert properties["a"] == {"type": "string", "maxLength": 3, "description": "d"}
    assert properties["b"] == schema["properties"]["b"]  # a real default stays
    assert properties["c"] == {"type": "object"}
    assert properties["d"] == {"type": "object", "additionalProperties": False}


def test_output_names_every_field() -> None:
    class Inner(BaseModel):
        x: int

    class Result(BaseModel):
        id: str
        inner: Inner
        maybe: int | None = None

    assert compact_output(Result) == {
        "type": "object",
        "properties": {"id": {}, "inner": {}, "maybe": {}},
    }


def test_every_tool_output_names_what_its_result_model_serialises() -> None:
    # compact_output reads the field names: the models must keep serialising under them.
    from typing import get_type_hints

    from worktrack.server import TOOLSETS

    for toolset in TOOLSETS:
        for spec in toolset.specs:
            model = get_type_hints(spec.fn)["return"]
            generated = model.model_json_schema(mode="serialization")["properties"]
            assert list(compact_output(model)["properties"]) == list(generated), spec.fn.__name__
