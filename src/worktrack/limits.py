"""Size limits on tool arguments, checked once for every tool before any of them runs.

A call whose arguments are larger than ``MAX_ARGUMENT_BYTES`` as JSON, nested deeper than
``MAX_ARGUMENT_DEPTH`` or holding a lone surrogate (text no encoding can store) is a
``ValidationError`` on ``arguments``: rejected whole, never truncated. A NaN or infinite
number anywhere (JSON has neither; a database would store null) is a ``ValidationError``
naming its field. Per-field limits
(lengths, list sizes, ``limit`` maxima) are in each tool's schema and rejected the same way.
"""

from __future__ import annotations

import json
from typing import Any

from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from mcp.types import CallToolRequestParams

from worktrack.errors import ValidationError
from worktrack.models.common import finite_rule, non_finite

MAX_ARGUMENT_BYTES = 1_048_576
MAX_ARGUMENT_DEPTH = 32


def nesting_depth(value: Any, stop_after: int) -> int:
    """How deeply lists and objects nest in ``value``; counting stops past ``stop_after``.

    Iterative, so no input can exhaust the interpreter's stack."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > stop_after:
            return deepest
        pending.extend((child, depth + 1) for child in children)
    return deepest


def check_arguments(arguments: dict[str, Any] | None) -> None:
    if not arguments:
        return
    if nesting_depth(arguments, MAX_ARGUMENT_DEPTH) > MAX_ARGUMENT_DEPTH:
        raise ValidationError("arguments", f"nested deeper than {MAX_ARGUMENT_DEPTH} levels")
    found = non_finite(arguments)
    if found is not None:
        raise ValidationError(found[0], finite_rule(found[1]))
    try:
        size = len(json.dumps(arguments, ensure_ascii=False, default=str).encode())
    except UnicodeEncodeError as error:  # a lone surrogate: no database can store it
        raise ValidationError(
            "arguments", f"holds {error.object[error.start]!r}, a lone surrogate, not Unicode text"
        ) from None
    if size > MAX_ARGUMENT_BYTES:
        raise ValidationError(
            "arguments", f"{size} bytes as JSON; at most {MAX_ARGUMENT_BYTES} (1 MiB) per call"
        )


class ArgumentLimits(Middleware):
    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        check_arguments(context.message.arguments)
        return await call_next(context)
