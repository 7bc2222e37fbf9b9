"""The one place worktrack errors become MCP tool errors.

A failed call is an ``isError`` result whose text is the contract's JSON object
``{"error", "message", "details"}``. Domain errors are mapped where tools are registered
(``mapped``), before FastMCP would log them as crashes; bad arguments, which FastMCP
rejects before a tool runs, errors raised by inner middleware (``limits``) and unexpected
failures are mapped by ``ErrorMapping``. A tool runs under its name (``errors.operation``),
so an error met at the database edge says which call it broke. Error text echoes what the
caller sent, so it is revealed like any other output: hidden characters cannot ride back
inside an error.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import pydantic
from fastmcp.exceptions import DisabledError, ToolError
from fastmcp.exceptions import NotFoundError as UnknownComponent
from fastmcp.exceptions import ValidationError as ArgumentError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from mcp.types import CallToolRequestParams

from worktrack.errors import NotFoundError, ValidationError, WorktrackError, operation
from worktrack.models.common import to_validation_error
from worktrack.text import reveal_json

P = ParamSpec("P")
R = TypeVar("R")
INTERNAL = {
    "error": "InternalError",
    "message": "the server failed unexpectedly; its log has the details",
    "details": {},
}


def _tool_error(payload: dict[str, Any]) -> ToolError:
    text = json.dumps(reveal_json(payload), ensure_ascii=False, default=str)
    return ToolError(text, log_level=logging.DEBUG)


def mapped(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with operation(fn.__name__):  # errors from the database edge name the tool
                return await fn(*args, **kwargs)
        except WorktrackError as error:
            raise _tool_error(error.payload()) from None

    return call


def _argument_error(error: ArgumentError) -> ValidationError:
    cause = error.__cause__
    if isinstance(cause, pydantic.ValidationError):
        return to_validation_error(cause)
    return ValidationError("arguments", str(error))


class ErrorMapping(Middleware):
    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        try:
            return await call_next(context)
        except ArgumentError as error:
            raise _tool_error(_argument_error(error).payload()) from None
        except (UnknownComponent, DisabledError):  # no such tool (or hidden by settings)
            unknown = NotFoundError("tool", name=context.message.name)
            raise _tool_error(unknown.payload()) from None
        except WorktrackError as error:
            raise _tool_error(error.payload()) from None
        except ToolError as error:
            if error.__cause__ is not None:  # masked by FastMCP: an unexpected failure
                raise _tool_error(INTERNAL) from None
            raise
