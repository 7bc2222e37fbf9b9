"""Every tool the server can register is in exactly one toolset, annotated as the contract
asks (reads read-only, writes not), and documented under its toolset in the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from worktrack.server import TOOLSETS, create_server
from worktrack.settings import TOOLSETS as TOOLSET_NAMES

from conftest import Backend

README = Path(__file__).resolve().parents[1] / "README.md"


def _documented() -> dict[str, set[str]]:
    """Tool names in the README's tool reference, by the toolset heading above them."""
    reference = README.read_text(encoding="utf-8").split("## Tool reference", 1)[1]
    reference = reference.split("\n## ", 1)[0]
    found: dict[str, set[str]] = {}
    for section in re.split(r"^### ", reference, flags=re.M)[1:]:
        heading, _, body = section.partition("\n")
        found[heading.strip()] = set(
            re.findall(r"^\| `([a-z_]+)` \| (?:read|write) \|", body, re.M)
        )
    return found


def test_every_tool_is_in_exactly_one_toolset_and_documented_there() -> None:
    by_toolset = {
        toolset.name: [spec.fn.__name__ for spec in toolset.specs] for toolset in TOOLSETS
    }
    assert sorted(by_toolset) == sorted(TOOLSET_NAMES)
    every = [name for names in by_toolset.values() for name in names]
    assert len(every) == len(set(every))  # in exactly one toolset
    documented = _documented()
    for toolset, names in by_toolset.items():
        assert documented.get(toolset) == set(names), toolset


async def test_annotations_say_which_tools_only_read(client: Client[Any]) -> None:
    documented = {name: kind for kind, name in _kinds()}
    for tool in await client.list_tools():
        annotations = tool.annotations
        assert annotations is not None, tool.name
        assert annotations.open_world_hint is False, tool.name
        reads = documented[tool.name] == "read"
        assert bool(annotations.read_only_hint) is reads, tool.name
        assert tool.description and tool.description.count(".") <= 2, tool.name


def _kinds() -> list[tuple[str, str]]:
    reference = README.read_text(encoding="utf-8").split("## Tool reference", 1)[1]
    return [(k, n) for n, k in re.findall(r"^\| `([a-z_]+)` \| (read|write) \|", reference, re.M)]


@pytest.mark.parametrize("toolsets", [("work_items",), ("vendors", "reports"), ("admin",)])
async def test_only_the_named_toolsets_are_exposed(
    backend: Backend, toolsets: tuple[str, ...]
) -> None:
    async with Client(create_server(backend.settings(toolsets=toolsets))) as client:
        names = {tool.name for tool in await client.list_tools()}
    expected = {spec.fn.__name__ for t in TOOLSETS if t.name in toolsets for spec in t.specs}
    assert names == expected


async def test_read_only_mode_exposes_read_tools_only(backend: Backend) -> None:
    async with Client(create_server(backend.settings(read_only=True))) as client:
        names = {tool.name for tool in await client.list_tools()}
        refused = await client.call_tool(
            "create_work_item", {"item_type": "task", "title": "x"}, raise_on_error=False
        )
    reads = {name for kind, name in _kinds() if kind == "read"}
    assert names == reads
    assert refused.is_error
