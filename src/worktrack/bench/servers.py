"""The benchmark's own server: the product's server plus a no-op tool, the floor every
call is measured against. The no-op exists only on this instance, never in the product's
``tools/list``.

``python -m worktrack.bench.servers`` serves it over stdio, configured from the
environment like ``worktrack serve``.
"""

from __future__ import annotations

import logging
import sys

from fastmcp import FastMCP
from fastmcp.tools import Tool
from mcp.types import ToolAnnotations

from worktrack.bench.measure import HandlerTiming
from worktrack.server import create_server
from worktrack.settings import Settings

NOOP = "bench_noop"


async def bench_noop() -> dict[str, bool]:
    """Do nothing."""
    return {"ok": True}


def bench_server(settings: Settings, timing: HandlerTiming | None = None) -> FastMCP:
    server = create_server(settings)
    server.add_tool(
        Tool.from_function(bench_noop, name=NOOP, annotations=ToolAnnotations(read_only_hint=True))
    )
    if timing is not None:
        server.add_middleware(timing)
    return server


def main() -> None:  # pragma: no cover - runs in the child process the benchmark spawns
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    bench_server(Settings()).run(show_banner=False)


if __name__ == "__main__":  # pragma: no cover
    main()
