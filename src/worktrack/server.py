"""The FastMCP application: lifespan (database), tools by toolset, error mapping."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from importlib.metadata import version
from typing import Any, get_type_hints

from fastmcp import FastMCP
from fastmcp.tools import Tool

from worktrack import resources
from worktrack.limits import ArgumentLimits
from worktrack.mcp_errors import ErrorMapping, mapped
from worktrack.schemas import compact_input, compact_output
from worktrack.services import archive_daily
from worktrack.services.app import App, utcnow
from worktrack.settings import Settings
from worktrack.startup import open_app, running
from worktrack.tools import (
    admin,
    configuration,
    deployments,
    enhancements,
    notes,  # noqa: F401 - adds add_note and list_notes to the work_items toolset
    reports,
    vendors,
    work_items,
)
from worktrack.tools.common import Toolset, ToolSpec

TOOLSETS: list[Toolset] = [
    work_items.tools,
    vendors.tools,
    deployments.tools,
    configuration.tools,
    enhancements.tools,
    reports.tools,
    admin.tools,
]

INSTRUCTIONS = (
    "worktrack is the shared record of this software project: work items (project > "
    "session > task/research), their dependencies and claims. Find work with ready_work, "
    "claim it with claim_work_item, and pass the version you last read to every update: "
    "a VersionConflictError means someone else changed it, so re-read and retry."
)


def create_server(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utcnow,
    opened: Callable[[App | None], None] | None = None,
) -> FastMCP:
    """The server; ``opened`` is told the app once it is open (and None when it closes):
    the board served beside it over HTTP reads through the same app."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_server: FastMCP) -> AsyncIterator[dict[str, Any]]:
        async with running(await open_app(settings, clock)) as app, archive_daily.daily(app):
            if opened is not None:
                opened(app)
            try:
                yield {"app": app}
            finally:
                if opened is not None:
                    opened(None)

    mcp = FastMCP(
        "worktrack",
        version=_version(),
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        mask_error_details=True,
        strict_input_validation=True,
        on_duplicate="error",
        middleware=[ErrorMapping(), ArgumentLimits()],
    )
    for toolset, spec, tool in _built_tools():
        if toolset in settings.toolsets and (spec.read_only or not settings.read_only):
            mcp.add_tool(tool)
    resources.register(mcp)
    return mcp


@functools.cache
def _version() -> str:
    """The installed package's version: what ``serverInfo`` says (not FastMCP's)."""
    return version("worktrack")


@functools.cache
def _built_tools() -> tuple[tuple[str, ToolSpec, Tool], ...]:
    """Every tool, built once per process: schema generation is the costly part."""
    return tuple(
        (toolset.name, spec, _build(spec, toolset.name))
        for toolset in TOOLSETS
        for spec in toolset.specs
    )


def _build(spec: ToolSpec, toolset: str) -> Tool:
    result_model = get_type_hints(spec.fn)["return"]
    call = mapped(spec.fn)
    # FastMCP would derive a full JSON schema from the return annotation only for ours to
    # replace it (a third of start-up's schema work): it sees no return annotation.
    signature = inspect.signature(spec.fn)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )
    tool = Tool.from_function(
        call,
        annotations=spec.annotations,
        tags={toolset},
        output_schema=compact_output(result_model),
    )
    return tool.model_copy(update={"parameters": compact_input(tool.parameters)})
