"""The FastMCP application: lifespan (database), tools by toolset, error mapping."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, get_type_hints

from fastmcp import FastMCP
from fastmcp.tools import Tool

from worktrack import migrations, resources
from worktrack.db import Database, create_engine, source_of
from worktrack.limits import ArgumentLimits
from worktrack.mcp_errors import ErrorMapping, mapped
from worktrack.schemas import compact_input, compact_output
from worktrack.services.app import App, utcnow
from worktrack.settings import Settings
from worktrack.tools import configuration, deployments, enhancements, reports, vendors, work_items
from worktrack.tools.common import Toolset, ToolSpec

TOOLSETS: list[Toolset] = [
    work_items.tools,
    vendors.tools,
    deployments.tools,
    configuration.tools,
    enhancements.tools,
    reports.tools,
]

INSTRUCTIONS = (
    "worktrack is the shared record of this software project: work items (project > "
    "session > task/research), their dependencies and claims. Find work with ready_work, "
    "claim it with claim_work_item, and pass the version you last read to every update: "
    "a VersionConflictError means someone else changed it, so re-read and retry."
)


async def open_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> App:
    """Connect to the configured database; migrate SQLite, refuse an old Postgres schema."""
    url = settings.effective_database_url
    engine = create_engine(
        url,
        connect_timeout=settings.connect_timeout_seconds,
        statement_timeout=settings.statement_timeout_seconds,
    )
    try:
        if source_of(url) == "sqlite":
            if await migrations.current_revision(engine) != migrations.head_revision():
                await migrations.upgrade(url)
        else:
            await migrations.require_head(engine)
    except BaseException:
        await engine.dispose()
        raise
    return App(settings=settings, db=Database(engine, source_of(url)), clock=clock)


def create_server(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utcnow
) -> FastMCP:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_server: FastMCP) -> AsyncIterator[dict[str, Any]]:
        app = await open_app(settings, clock)
        try:
            yield {"app": app}
        finally:
            await app.db.dispose()

    mcp = FastMCP(
        "worktrack",
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
def _built_tools() -> tuple[tuple[str, ToolSpec, Tool], ...]:
    """Every tool, built once per process: schema generation is the costly part."""
    return tuple(
        (toolset.name, spec, _build(spec, toolset.name))
        for toolset in TOOLSETS
        for spec in toolset.specs
    )


def _build(spec: ToolSpec, toolset: str) -> Tool:
    result_model = get_type_hints(spec.fn)["return"]
    tool = Tool.from_function(
        mapped(spec.fn),
        annotations=spec.annotations,
        tags={toolset},
        output_schema=compact_output(result_model),
    )
    return tool.model_copy(update={"parameters": compact_input(tool.parameters)})
