"""How MCP clients start worktrack: the stdio command and its environment, per client."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path


def executable() -> str:
    """The absolute path of the running ``worktrack`` command."""
    started_as = Path(sys.argv[0])
    if started_as.name == "worktrack" and started_as.exists():
        return str(started_as.resolve())
    return shutil.which("worktrack") or str(Path(sys.executable).with_name("worktrack"))


def server_entry(command: str, repo: Path) -> dict[str, object]:
    return {"command": command, "args": ["serve"], "env": {"WORKTRACK_REPO": str(repo)}}


def claude_code(command: str, repo: Path) -> str:
    return (
        f"claude mcp add worktrack -e WORKTRACK_REPO={shlex.quote(str(repo))} "
        f"-- {shlex.quote(command)} serve"
    )


def json_config(command: str, repo: Path) -> str:
    """The ``mcpServers`` block Claude Desktop and Cursor read."""
    return json.dumps({"mcpServers": {"worktrack": server_entry(command, repo)}}, indent=2)


def connection_help(command: str, repo: Path) -> str:
    return "\n".join(
        [
            "worktrack speaks MCP on stdio; an MCP client starts it. To connect one:",
            "",
            "  Claude Code:",
            f"    {claude_code(command, repo)}",
            "",
            "  Claude Desktop (claude_desktop_config.json) and Cursor (.cursor/mcp.json):",
            *(f"    {line}" for line in json_config(command, repo).splitlines()),
            "",
            "Waiting for a client on stdin (Ctrl-C to stop).",
        ]
    )
