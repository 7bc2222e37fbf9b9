"""Reports tools: parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context
from pydantic import Field

from worktrack.models.common import RequestId
from worktrack.models.reports import StatusReport
from worktrack.services import reports
from worktrack.tools.common import Toolset, app_of, progress_of

tools = Toolset("reports")


@tools.write(idempotent=True)
async def generate_status_report(
    ctx: Context,
    write_file: Annotated[
        bool,
        Field(description="also write it atomically to the status file (WORKTRACK_STATUS_FILE)"),
    ] = False,
    since: Annotated[
        str,
        Field(
            max_length=64,
            description="ISO-8601 time with offset: adds what changed since then",
        ),
    ]
    | None = None,
    detail: Annotated[
        Literal["summary", "full"],
        Field(description="summary: a digest of at most 8,000 characters; full: every entry"),
    ] = "summary",
    request_id: Annotated[
        RequestId, Field(description="accepted like on every write; a retry simply regenerates")
    ]
    | None = None,
) -> StatusReport:
    """The markdown status report: vendors, active work items, deployments, enhancements."""
    return await reports.generate_status_report(
        app_of(ctx),
        write_file=write_file,
        since=since,
        detail=detail,
        progress=progress_of(ctx),
    )
