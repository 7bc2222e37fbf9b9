"""What each read tool returns by default, in tokens: the context an assistant pays for a
call made without narrowing arguments (issue 15: at most 5,000 tokens at 1,200 items).

Every tool the product marks read-only is called, with the status report (a write only
because it may write the file) as the assistant calls it; tools that need arguments get
the seeded project's landmarks. A tool this module has no arguments for is a row saying
so, not a guess."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastmcp import Client

from worktrack.bench.scenarios import Landmarks
from worktrack.bench.stdio import call

LIMIT_TOKENS = 5_000
ALSO_MEASURED = ("generate_status_report",)  # read in effect; annotated a write (write_file)

_ARGUMENTS: dict[str, Callable[[Landmarks], dict[str, Any]]] = {
    "query_work_item": lambda m: {"id": m.root_id},  # the largest default: a whole project
    "get_history": lambda m: {"entity": "work_item", "id": m.update_id},
    "query_vendor_status": lambda m: {"name": m.vendor_name},
    "query_deployment": lambda m: {"id": m.deployment_id},
    "list_notes": lambda m: {"work_item_id": m.leaf_id},
}

# The seeded project has no notes: the leaf gets a session's worth of hand-off notes first,
# each about as long as a real one (a few sentences of what was done and what is next).
NOTES_WRITTEN = 25
NOTE_TEXT = (
    "Done: parsed the statement layout for the March files and added fixtures for the two "
    "new column orders. Next: the totals row still double-counts refunds when a page break "
    "falls inside the refund block; see tests/parse/test_refunds.py::test_split_block, "
    "marked xfail. The vendor's sample from 2024 has the old header, so keep the fallback."
)


@dataclass(frozen=True)
class ResultSize:
    tool: str
    arguments: dict[str, Any]
    chars: int | None  # None: not measured (``why`` says why)
    why: str | None = None

    @property
    def tokens(self) -> int | None:
        return None if self.chars is None else round(self.chars / 4)


def _text_chars(result: Any) -> int:
    return sum(len(getattr(block, "text", "")) for block in result.content)


async def _write_notes(client: Client[Any], marks: Landmarks) -> None:
    for _ in range(NOTES_WRITTEN):
        await call(client, "add_note", {"work_item_id": marks.leaf_id, "text": NOTE_TEXT})


async def measure(client: Client[Any], marks: Landmarks) -> list[ResultSize]:
    await _write_notes(client, marks)
    found = []
    for tool in (await client.list_tools_mcp()).tools:
        hints = tool.annotations
        read_only = bool(hints and hints.read_only_hint)
        if not (read_only or tool.name in ALSO_MEASURED) or tool.name.startswith("bench_"):
            continue
        required = set((tool.input_schema or {}).get("required", []))
        given = _ARGUMENTS.get(tool.name)
        if required and given is None:
            needs = ", ".join(sorted(required))
            found.append(ResultSize(tool.name, {}, None, f"needs {needs}"))
            continue
        arguments = given(marks) if given else {}
        result = await client.call_tool_mcp(tool.name, arguments)
        if result.is_error:
            found.append(ResultSize(tool.name, arguments, None, "failed"))
            continue
        found.append(ResultSize(tool.name, arguments, _text_chars(result)))
    return found
