"""Timing: summary statistics of samples, and the middleware that times handlers."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from mcp.types import CallToolRequestParams


@dataclass(frozen=True)
class Stats:
    """Milliseconds."""

    n: int
    p50: float
    p95: float
    max: float
    mean: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        ordered = sorted(seconds)
        if not ordered:
            raise ValueError("no samples")

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

        return cls(
            n=len(ordered),
            p50=rank(0.5),
            p95=rank(0.95),
            max=ordered[-1] * 1000,
            mean=sum(ordered) / len(ordered) * 1000,
        )


class HandlerTiming(Middleware):
    """Times what the server does for a tool call once the request is routed: tool lookup,
    argument validation, the tool function (service, SQL) and the result's serialization.

    Registered last, so it runs innermost: the JSON-RPC transport, FastMCP's dispatch and
    the other middleware are outside it."""

    def __init__(self) -> None:
        self.last = 0.0

    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        start = time.perf_counter()
        try:
            return await call_next(context)
        finally:
            self.last = time.perf_counter() - start
