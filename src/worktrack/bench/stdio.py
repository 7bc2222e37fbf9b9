"""Real server processes over stdio: ``worktrack serve`` as a client spawns it, and the
benchmark's no-op server beside it."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from mcp.types import CallToolResult

from worktrack.settings import Settings

# The least a FastMCP server on stdio can be: what any Python MCP server starts from.
FLOOR_SERVER = """
from fastmcp import FastMCP
server = FastMCP("floor")
@server.tool
def ping() -> str:
    return "pong"
server.run(show_banner=False)
"""


@dataclass(frozen=True)
class Spawner:
    """How to start server processes on the benchmark's database, with stderr kept in
    ``log`` (stdout carries JSON-RPC)."""

    settings: Settings
    directory: Path

    @property
    def log(self) -> Path:
        return self.directory / "servers.log"

    def env(self) -> dict[str, str]:
        values = {
            "WORKTRACK_DATABASE_URL": self.settings.effective_database_url,
            "WORKTRACK_HOME": str(self.settings.home_dir),
            "WORKTRACK_REPO": str(self.settings.repo),
            "WORKTRACK_STATUS_FILE": str(self.settings.status_path),
            "WORKTRACK_ACTOR": self.settings.actor or "bench",
            "WORKTRACK_TOOLSETS": "all",
            "WORKTRACK_READ_ONLY": "false",
            "WORKTRACK_ARCHIVE_CHECK_SECONDS": "0",  # no daily archive while measuring
        }
        return {**os.environ, **values}

    def _transport(self, args: list[str]) -> StdioTransport:
        return StdioTransport(
            command=args[0],
            args=args[1:],
            env=self.env(),
            cwd=str(self.directory),  # no stray .env file is read
            keep_alive=False,
            log_file=self.log,
        )

    def serve(self) -> StdioTransport:
        """``worktrack serve``, the command clients are told to run."""
        command = Path(sys.executable).with_name("worktrack")
        if command.exists():
            return self._transport([str(command), "serve"])
        return self._transport([sys.executable, "-m", "worktrack", "serve"])

    def noop_server(self) -> StdioTransport:
        return self._transport([sys.executable, "-m", "worktrack.bench.servers"])

    def floor_server(self) -> StdioTransport:
        return self._transport([sys.executable, "-c", FLOOR_SERVER])


async def call(client: Client[Any], tool: str, arguments: dict[str, Any]) -> CallToolResult:
    """One call; a failed call stops the run (timings of errors would mean nothing)."""
    result = await client.call_tool_mcp(tool, arguments)
    if result.is_error:
        text = getattr(result.content[0], "text", "") if result.content else ""
        raise RuntimeError(f"{tool} failed during the benchmark: {text}")
    return result


def peak_rss_kib(command_part: str, field: str = "VmHWM") -> int | None:
    """The peak RSS (VmHWM; or ``field``, e.g. VmRSS for the current one) of this process's
    live children whose command line contains ``command_part``, from /proc (Linux); None
    elsewhere. Not getrusage(RUSAGE_CHILDREN): it counts a child's pages at fork, before
    exec, so it reports the parent's size."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (entry / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if ppid == os.getpid() and command_part in command:
            found += [int(line.split()[1]) for line in status.splitlines() if field in line]
    return max(found) if found else None


@dataclass(frozen=True)
class ColdStart:
    connected: float  # seconds from spawn until the client is connected
    answered: float  # ... until the first tool call has its answer


async def cold_start(transport: StdioTransport, tool: str, arguments: dict[str, Any]) -> ColdStart:
    start = time.perf_counter()
    async with Client(transport) as client:
        connected = time.perf_counter()
        await call(client, tool, arguments)
        answered = time.perf_counter()
    return ColdStart(connected - start, answered - start)
