"""The generated parts of ``docs/reference.md``: every tool as the live server lists it
(``tools/list``) and every command as the CLI defines it. Generated, so the reference cannot
drift from the code; a test regenerates both parts and compares them with the file.

Run ``python -m worktrack.reference docs/reference.md`` to rewrite them in place.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer
from mcp.types import Tool
from typer.core import TyperGroup

_SECTION = re.compile(
    r"(<!-- generated:(?P<name>[a-z]+) -->\n)(?:.*?\n)?(<!-- end:(?P=name) -->)", re.DOTALL
)


async def listed_tools() -> list[Tool]:
    """``tools/list`` of a server exposing every tool, on a scratch embedded database."""
    from fastmcp import Client

    from worktrack.server import create_server
    from worktrack.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        settings = Settings(
            database_url=None, home=root / "home", repo=root, read_only=False, actor="reference"
        )
        async with Client(create_server(settings)) as client:
            return list(await client.list_tools())


def tools_section(tools: Iterable[Tool]) -> str:
    by_toolset: dict[str, list[Tool]] = {}
    for tool in tools:
        by_toolset.setdefault(_toolset(tool), []).append(tool)
    parts = []
    for toolset, members in by_toolset.items():
        parts.append(f"### Toolset `{toolset}`\n")
        parts += [_tool(tool) for tool in members]
    return "\n".join(parts).rstrip()


def _toolset(tool: Tool) -> str:
    tags: list[str] = ((tool.meta or {}).get("fastmcp") or {}).get("tags") or ["other"]
    return tags[0]


def _tool(tool: Tool) -> str:
    schema = tool.input_schema
    required = set(schema.get("required", []))
    lines = [f"#### `{tool.name}`\n", f"{tool.description or ''} *({_kind(tool)})*\n"]
    properties: dict[str, Any] = schema.get("properties", {})
    if properties:
        lines += [
            "| parameter | type | required | default | rule | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for name, prop in properties.items():
            cells = [
                f"`{name}`",
                _type(prop),
                "yes" if name in required else "",
                _code(prop["default"]) if "default" in prop else "",
                _rule(prop),
                _cell(prop.get("description", "")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    else:
        lines.append("No parameters.")
    fields = list((tool.output_schema or {}).get("properties", {}))
    lines += ["", "Result fields: " + ", ".join(f"`{field}`" for field in fields) + "\n"]
    return "\n".join(lines)


def _kind(tool: Tool) -> str:
    hints = tool.annotations
    if hints is not None and hints.read_only_hint:
        return "read-only"
    kinds = ["write"]
    if hints is not None and hints.idempotent_hint:
        kinds.append("idempotent")
    if hints is None or hints.destructive_hint is not False:
        kinds.append("destructive")
    return ", ".join(kinds)


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(_code(value) for value in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    return str(kind)


def _rule(prop: dict[str, Any]) -> str:
    rules = []
    unit = {"string": "characters", "array": "items", "object": "keys"}.get(
        prop.get("type", ""), ""
    )
    low = prop.get("minLength", prop.get("minItems", prop.get("minimum")))
    high = prop.get("maxLength", prop.get("maxItems", prop.get("maximum")))
    if low is not None or high is not None:
        span = f"{low if low is not None else 0}..{high if high is not None else '∞'}"
        rules.append(f"{span} {unit}".strip())
    if "pattern" in prop:
        rules.append(f"pattern `{prop['pattern']}`")
    item_rule = _rule(prop["items"]) if isinstance(prop.get("items"), dict) else ""
    if item_rule:
        rules.append(f"each {item_rule}")
    return _cell("; ".join(rules))


def _code(value: Any) -> str:
    shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else value
    return f'`"{shown}"`' if isinstance(value, str) else f"`{shown}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def commands_section(group: TyperGroup | None = None) -> str:
    """Every ``worktrack`` command with its arguments and options, from the CLI itself."""
    if group is None:
        from worktrack.cli import app

        built = typer.main.get_command(app)
        assert isinstance(built, TyperGroup)
        group = built
    context = typer.Context(group, info_name="worktrack")
    parts = []
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        parts.append(_command(name, command, context))
    return "\n".join(parts).rstrip()


def _command(name: str, command: Any, parent: typer.Context) -> str:
    context = typer.Context(command, info_name=name, parent=parent)
    usage = " ".join(command.collect_usage_pieces(context))
    help_text = " ".join((command.help or "").split("\n\n")[0].split())
    lines = [f"#### `worktrack {name}`\n", f"`worktrack {name} {usage}`\n", help_text + "\n"]
    rows = [_parameter(param) for param in command.params if param.name != "help"]
    if rows:
        lines += ["| argument or option | meaning | default |", "|---|---|---|", *rows]
    return "\n".join(lines) + "\n"


def _parameter(param: Any) -> str:
    names = ", ".join(f"`{name}`" for name in [*param.opts, *param.secondary_opts])
    meaning = getattr(param, "help", None) or (
        "argument" if param.param_type_name == "argument" else ""
    )
    default = param.default
    shown = "" if default in (None, False, ()) or callable(default) else _code(default)
    return f"| {names} | {_cell(str(meaning))} | {shown} |"


def render(document: str, sections: dict[str, str]) -> str:
    """``document`` with each generated section replaced by its fresh text."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in sections:
            return match[0]
        return f"{match.group(1)}\n{sections[name]}\n\n{match.group(3)}"

    return _SECTION.sub(fill, document)


def fresh_sections() -> dict[str, str]:
    return {"tools": tools_section(asyncio.run(listed_tools())), "commands": commands_section()}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m worktrack.reference docs/reference.md\n")
        return 2
    path = Path(argv[0])
    path.write_text(render(path.read_text(encoding="utf-8"), fresh_sections()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
