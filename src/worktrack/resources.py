"""MCP resources and prompts: the status report, one work item as JSON, a planning prompt.

Resources are for clients that read without calling tools (and for read-only clients, which
cannot call ``generate_status_report``). A failed read is a resource error whose text is the
contract's JSON error object, as a failed tool call's is.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, ParamSpec

from fastmcp import Context, FastMCP
from fastmcp.exceptions import PromptError, ResourceError
from pydantic import Field

from worktrack.errors import ValidationError, WorktrackError
from worktrack.services import reports, work_items
from worktrack.services.app import App
from worktrack.text import reveal

P = ParamSpec("P")
_ID_REF = re.compile(r"[0-9a-fA-F][0-9a-fA-F-]{7,35}")
_MAX_GOAL = 2000


def register(mcp: FastMCP) -> None:
    mcp.resource(
        "worktrack://status",
        name="status",
        description="The project status report (markdown): vendors, active work items, "
        "recent deployments, future enhancements.",
        mime_type="text/markdown",
    )(status)
    mcp.resource(
        "worktrack://work-items/{id}",
        name="work_item",
        description="One work item as JSON, with ancestors, nested children, dependencies "
        "and progress; {id} is its id or a unique prefix of 8+ characters.",
        mime_type="application/json",
    )(work_item)
    mcp.prompt(
        name="plan_session",
        description="Break a goal into a work session with ordered tasks, using worktrack tools.",
    )(plan_session)


def _app(ctx: Context) -> App:
    app: App = ctx.lifespan_context["app"]
    return app


def _contract_errors(fn: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
    @functools.wraps(fn)
    async def read(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            return await fn(*args, **kwargs)
        except WorktrackError as error:
            raise ResourceError(_text(error), log_level=logging.DEBUG) from None

    return read


@_contract_errors
async def status(ctx: Context) -> str:
    report = await reports.generate_status_report(_app(ctx), detail="full")
    return report.markdown


@_contract_errors
async def work_item(id: str, ctx: Context) -> str:
    if not _ID_REF.fullmatch(id):
        raise ValidationError("id", "a work item id or a prefix of at least 8 hex characters")
    detail = await work_items.query_work_item(_app(ctx), id=id)
    return detail.model_dump_json()


def _text(error: WorktrackError) -> str:
    return json.dumps(error.payload(), ensure_ascii=False)


def plan_session(
    goal: Annotated[str, Field(description="what to achieve (1..2000 characters)")],
) -> str:
    if not 1 <= len(goal) <= _MAX_GOAL or not goal.strip():
        error = ValidationError("goal", f"1..{_MAX_GOAL} characters, not only whitespace")
        raise PromptError(_text(error), log_level=logging.DEBUG)
    return _PLAN.format(goal=reveal(goal))


_PLAN = """\
Plan a work session in worktrack for this goal:

<goal>
{goal}
</goal>

1. Find the project the goal belongs to: list_work_items(item_type="project"). If none fits,
   create one with create_work_item(item_type="project", title=..., description=<what the
   project is for, in markdown>).
2. Create the session under it: create_work_item(item_type="session", parent_id=<project id>,
   title=<the goal in a few words>, description=<the goal and how you will know it is met>).
   Its token budget defaults to the configuration's default_token_budget.
3. Break the goal into small tasks, each finishable in one sitting: create_work_item(
   item_type="task", or "research" for an open question, parent_id=<session id>, title=...,
   description=<what to do and why, with the files or commands involved>,
   acceptance_criteria=<how to check it is done, one line per check>,
   labels=[<a few lower-case labels such as "backend" or "docs">],
   priority=0 (most urgent) .. 4).
4. Where a task needs another finished first, link them: add_dependency(source_id=<later task>,
   target_id=<earlier task>, dependency_type="depends_on").
5. Then work through them: ready_work(parent_id=<session id>) lists what can start now;
   claim one before you start, so other assistants leave it to you: claim_work_item() takes
   the first ready item, claim_work_item(id=...) a chosen one. Then set
   its status to "in_progress". Pass the version you last read to every update_work_item; use
   metadata_patch to change a few metadata keys. Mark a task "completed" when its acceptance
   criteria hold, or "cancelled" if it is no longer needed.
6. Leave what the next assistant needs to know with add_note(work_item_id=..., text=...):
   findings, decisions, where you stopped. Before you start an item, read its notes
   (query_work_item shows the newest five; list_notes pages through the rest).
"""
