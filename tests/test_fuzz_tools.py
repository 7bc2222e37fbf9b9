"""Every tool, fuzzed from its own input schema through the in-memory client.

The tools come from ``tools/list``, so a tool added later is fuzzed without touching this
file. Each example is either a valid instance of the tool's input schema
(hypothesis-jsonschema) or one mutated into something hostile: a required field missing, a
wrong type, an unknown property, a huge string, control, bidi and zero-width characters,
SQL and shell metacharacters, deep nesting, out-of-range numbers. Whatever comes in:

- the call returns a tool result (never a JSON-RPC failure) and never ``InternalError``;
- input that breaks the schema gets the contract's ``ValidationError``;
- no invisible character reaches the client unrevealed;
- the server keeps serving: a read after every example succeeds.

Example counts follow the hypothesis profile: ``ci`` (default, bounded) or
``HYPOTHESIS_PROFILE=soak`` for a long run.
"""

from __future__ import annotations

import asyncio
import string
from typing import Any

import jsonschema
import pytest
from fastmcp import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from mcp.types import Tool

from worktrack.server import create_server

from conftest import Backend
from helpers import PROJECT_META, SESSION_META
from hostile import CONTROL, INJECTION, INVISIBLE, SHELL, SQL, error_of, hidden_characters, nested

CONTRACT_ERRORS = {"ValidationError", "NotFoundError", "VersionConflictError", "ConflictError"}
WRONG_VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "text", [], ["x"], {}, {"k": "v"}]
BIG_NUMBERS = [2**31, 2**63, -(2**63) - 1, 10**30]
HOSTILE_TEXT = INVISIBLE + INJECTION + SQL + SHELL + CONTROL
ODD_KEYS = ["unexpected", "", "\u202e", "__proto__", "k" * 300, "a\x00b", "\ud800"]
HUGE_LENGTHS = [5_000, 1_048_577, 2_500_000]
DEPTHS = [13, 33, 150, 250]  # the client refuses to serialize deeper (test_stdio_hostile)
MUTATIONS = [  # a third of the examples stay valid, to reach the services and the database
    *["valid"] * 4,
    "drop_required",
    "wrong_type",
    "extra_property",
    "hostile_text",
    "huge_string",
    "deep_nesting",
    "big_number",
]
VENDOR_META = {
    "format_support": {"excel": True, "csv": True, "pdf": False, "ocr": False},
    "test_results": {"passing": 1, "total": 1, "skipped": 0},
}
DEPLOYMENT_META = {
    "pr_number": 7,
    "pr_title": "Ship it",
    "test_summary": {"unit": 3},
    "constitutional_compliance": True,
}
# Mutations aimed where they bite: numbers at integer fields, text at string fields.
TARGET_TYPES = {"big_number": "integer", "hostile_text": "string", "huge_string": "string"}
PLAIN = string.ascii_letters + string.digits + " -_%'"
GOOD_METADATA = [PROJECT_META, SESSION_META, VENDOR_META, DEPLOYMENT_META, {}]
# Patches that merge into some item type's metadata; null removes a key.
GOOD_PATCHES = [
    {"estimated_hours": 2},
    {"blocked_reason": None},
    {"token_budget": None, "prompts_count": 1},
    {"yaml_frontmatter": {"goal": "x"}},
    {"target_quarter": "2027-Q1"},
    {},
]
GOOD_LABELS = [["backend"], ["Backend", "backend", "area:ui"], [], ["v1.2/x-y_z"]]
ID_KINDS = ("work_item", "vendor", "enhancement", "depends_on")  # matched in argument names


def examples_per_tool() -> int:
    return max(20, settings.default.max_examples // 2)


class Session:
    """One server, kept open across every example: it must survive all of them."""

    def __init__(self, backend: Backend, runner: asyncio.Runner) -> None:
        self.runner = runner
        self.client: Client[Any] = Client(create_server(backend.settings()))
        self.known: dict[str, list[str]] = {}

    def __enter__(self) -> Session:
        self.runner.run(self.client.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self.runner.run(self.client.__aexit__(None, None, None))

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        return self.runner.run(self.client.call_tool(tool, arguments, raise_on_error=False))

    def tools(self) -> list[Tool]:
        return self.runner.run(self.client.list_tools())

    def seed(self) -> None:
        """Real entities, so some fuzzed ids resolve and deeper paths run."""
        made = [
            self.call(
                "create_work_item",
                {
                    "item_type": "project",
                    "title": "Seed",
                    "description": "d",
                    "metadata": PROJECT_META,
                },
            ),
            self.call(
                "create_work_item",
                {"item_type": "session", "title": "Seed session", "metadata": SESSION_META},
            ),
            self.call("create_work_item", {"item_type": "task", "title": "Seed task"}),
            self.call("create_enhancement", {"title": "Seed enhancement"}),
        ]
        vendor = self.call(
            "create_vendor",
            {
                "name": "seed-vendor",
                "extractor_version": "1.0",
                "metadata": VENDOR_META,
            },
        )
        ids = [r.structured_content["id"] for r in made if not r.is_error]
        # A note carrying every hidden character: list_notes and query_work_item show it.
        stored_text = "".join(INVISIBLE + INJECTION + SQL + SHELL)
        note = self.call("add_note", {"work_item_id": ids[2], "text": stored_text})
        assert not note.is_error, note.content
        self.known = {
            "ids": ids,
            "work_item": ids[:3],
            "enhancement": ids[3:],
            "depends_on": ids[3:],  # enhancements depend on enhancements
            "vendor": [vendor.structured_content["id"]],
            "names": ["seed-vendor", "SEED-VENDOR"],
        }
        self.known["ids"] += self.known["vendor"]


def _with_known_values(
    args: dict[str, Any], data: st.DataObject, known: dict[str, list[str]], schema: dict[str, Any]
) -> dict[str, Any]:
    """Swap random ids, names, text and metadata for real ones, so calls get past lookups
    and validation into the services and the database."""
    changed = dict(args)
    for key, value in args.items():
        rules = schema["properties"].get(key, {})
        if rules.get("type") == "string" and not {"pattern", "enum", "format"} & set(rules):
            changed[key] = data.draw(st.text(PLAIN, min_size=1, max_size=20))
        pool = next((known[kind] for kind in ID_KINDS if kind in key), known["ids"])
        if key == "name":  # an existing vendor, or a new name
            changed[key] = data.draw(st.sampled_from([*known["names"], changed[key]]))
        elif key == "id" or key.endswith("_id"):
            whole = data.draw(st.sampled_from(pool))
            changed[key] = whole[: max(8, len(value))] if isinstance(value, str) else whole
        elif key.endswith("_ids") and isinstance(value, list):
            changed[key] = list(dict.fromkeys(data.draw(st.sampled_from(pool)) for _ in value))
        elif key == "metadata":
            changed[key] = data.draw(st.sampled_from(GOOD_METADATA))
        elif key == "metadata_patch":
            changed[key] = data.draw(st.sampled_from(GOOD_PATCHES))
        elif key in ("labels", "label"):
            labels = data.draw(st.sampled_from(GOOD_LABELS))
            changed[key] = labels if key == "labels" else (labels or ["backend"])[0]
    if "version" in args:
        changed["version"] = data.draw(st.sampled_from([1, 2, args["version"]]))
    return changed


def _type_of(schema: dict[str, Any], name: str) -> str | None:
    kind = schema["properties"][name].get("type")
    return kind if isinstance(kind, str) else None


def _mutated(data: st.DataObject, tool: Tool, known: dict[str, list[str]]) -> dict[str, Any]:
    schema = tool.input_schema
    properties = list(schema.get("properties", {}))
    args: dict[str, Any] = dict(data.draw(from_schema(schema), label="valid"))
    if data.draw(st.booleans(), label="known values"):
        args = _with_known_values(args, data, known, schema)
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    typed = [name for name in properties if _type_of(schema, name) == TARGET_TYPES.get(kind)]
    candidates = typed or properties
    target = data.draw(st.sampled_from(candidates), label="field") if candidates else None
    if kind == "drop_required" and schema.get("required"):
        args.pop(data.draw(st.sampled_from(schema["required"])), None)
    elif kind == "wrong_type" and target:
        args[target] = data.draw(st.sampled_from(WRONG_VALUES))
    elif kind == "hostile_text" and target:
        args[target] = data.draw(st.sampled_from(HOSTILE_TEXT)) + str(args.get(target, ""))
    elif kind == "huge_string" and target:
        args[target] = "x" * data.draw(st.sampled_from(HUGE_LENGTHS))
    elif kind == "deep_nesting" and target:
        depth = data.draw(st.sampled_from(DEPTHS))
        args[target] = nested(depth, data.draw(st.sampled_from(["list", "dict"])))
    elif kind == "big_number" and target:
        args[target] = data.draw(st.sampled_from(BIG_NUMBERS))
    elif kind != "valid":  # nothing to mutate in place: add what the schema forbids
        args[data.draw(st.sampled_from(ODD_KEYS))] = data.draw(st.sampled_from(WRONG_VALUES))
    return args


def _check(tool: Tool, args: dict[str, Any], result: Any) -> str:
    """The outcome's name; fails on anything the contract does not allow."""
    assert not hidden_characters(result), f"{tool.name}: hidden characters reached the client"
    # null for an optional argument is accepted as "not given" (the compact schemas leave
    # out pydantic's anyOf-with-null), so it is judged as omitted.
    given = {key: value for key, value in args.items() if value is not None}
    schema_valid = jsonschema.Draft202012Validator(tool.input_schema).is_valid(given)
    if not result.is_error:
        assert schema_valid, f"{tool.name} accepted input its schema forbids: {args!r:.300}"
        assert isinstance(result.structured_content, dict)
        assert "data_source" in result.structured_content
        return "ok"
    name = error_of(result)["error"]
    assert name != "InternalError", f"{tool.name} failed internally on {args!r:.300}"
    assert name in CONTRACT_ERRORS, f"{tool.name}: unexpected error {name}"
    if not schema_valid:
        assert name == "ValidationError", f"{tool.name}: invalid input gave {name}"
    return name


def _fuzz(session: Session, tool: Tool, probe: str) -> dict[str, int]:
    outcomes: dict[str, int] = {}

    @settings(
        max_examples=examples_per_tool(),
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(data=st.data())
    def examples(data: st.DataObject) -> None:
        args = _mutated(data, tool, session.known)
        outcome = _check(tool, args, session.call(tool.name, args))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        alive = session.call(probe, {})
        assert not alive.is_error, "the server stopped serving"

    examples()
    return outcomes


def _probe(tools: list[Tool]) -> str:
    """A read that needs no arguments: called after every example."""
    reads = [tool for tool in tools if tool.annotations and tool.annotations.read_only_hint]
    return next(tool.name for tool in reads if not tool.input_schema.get("required"))


def test_every_listed_tool_survives_schema_fuzzing(backend: Backend) -> None:
    with asyncio.Runner() as runner, Session(backend, runner) as session:
        session.seed()
        tools = session.tools()
        assert len(tools) >= 20
        assert {"add_note", "list_notes"} <= {tool.name for tool in tools}
        probe = _probe(tools)
        for tool in tools:
            outcomes = _fuzz(session, tool, probe)
            assert sum(outcomes.values()) >= examples_per_tool() // 2, tool.name
            print(f"fuzz {backend.name}:{tool.name}: {sum(outcomes.values())} examples {outcomes}")


@pytest.mark.parametrize("depth", [33, 250])
def test_deep_nesting_is_a_validation_error_not_a_crash(backend: Backend, depth: int) -> None:
    with asyncio.Runner() as runner, Session(backend, runner) as session:
        result = session.call(
            "create_work_item",
            {"item_type": "task", "title": "deep", "metadata": {"x": nested(depth, "dict")}},
        )
        error = error_of(result)
        assert error["error"] == "ValidationError" and error["details"]["field"] == "arguments"
        assert "nested deeper" in error["message"]


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def test_hostile_text_in_descriptions_labels_and_patches(backend: Backend) -> None:
    """Every hostile value in each new text field: refused as a ValidationError naming the
    field, or accepted and shown back with nothing hidden; the server keeps serving."""
    with asyncio.Runner() as runner, Session(backend, runner) as session:
        session.seed()
        task_id = session.known["work_item"][2]
        outcomes: dict[str, int] = {}
        for value in HOSTILE_TEXT:
            calls: list[tuple[str, dict[str, Any], str]] = [
                (
                    "create_work_item",
                    {"item_type": "task", "title": "t", "description": value},
                    "description",
                ),
                (
                    "create_work_item",
                    {"item_type": "task", "title": "t", "acceptance_criteria": value},
                    "acceptance_criteria",
                ),
                (
                    "create_work_item",
                    {"item_type": "task", "title": "t", "labels": [value]},
                    "labels.0",
                ),
                (
                    "create_work_item",
                    {"item_type": "project", "title": "p", "description": value},
                    "description",
                ),
                ("list_work_items", {"label": value}, "label"),
                ("list_work_items", {"text": value}, "text"),
            ]
            current = session.call("query_work_item", {"id": task_id}).structured_content
            # The client cannot even send a lone surrogate as a key.
            key = value if _encodable(value) else "odd"
            calls.append(
                (
                    "update_work_item",
                    {
                        "id": task_id,
                        "version": current["version"],
                        "metadata_patch": {"blocked_reason": value, key: None},
                    },
                    "metadata_patch",
                )
            )
            for tool, arguments, field in calls:
                result = session.call(tool, arguments)
                assert not hidden_characters(result), f"{tool}: hidden characters shown"
                if result.is_error:
                    error = error_of(result)
                    assert error["error"] == "ValidationError", (tool, value, error)
                    named = error["details"]["field"]
                    # A lone surrogate is refused for the whole call (limits.py).
                    assert named.startswith(field.split(".")[0]) or named == "arguments", error
                    outcome = "refused"
                else:
                    outcome = "ok"
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            assert not session.call("list_work_items", {}).is_error
        assert outcomes.get("ok") and outcomes.get("refused")  # both paths were taken
