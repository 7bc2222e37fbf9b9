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
