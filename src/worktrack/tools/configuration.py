"""Configuration tools: parse arguments, call one service, return its model."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context
from pydantic import Field

from worktrack.models.common import Actor, ClearableCommit, ClearableId, RequestId
from worktrack.models.configuration import (
    Configuration,
    ContextType,
    GitBranch,
    TokenBudget,
)
from worktrack.services import configuration
from worktrack.tools.common import Toolset, app_of

tools = Toolset("configuration")
CLEARS = '"" clears'


@tools.read
async def get_project_configuration(ctx: Context) -> Configuration:
    """The project configuration, with the repository's branch, HEAD and dirtiness now."""
    return await configuration.get_project_configuration(app_of(ctx))


@tools.write(destructive=True)
async def update_project_configuration(
    ctx: Context,
    version: Annotated[int, Field(ge=1, description="the version you last read")],
    active_context_type: ContextType | None = None,
    current_session_id: Annotated[ClearableId, Field(description=f"a session; {CLEARS}")]
    | None = None,
    git_branch: Annotated[GitBranch, Field(description=CLEARS)] | None = None,
    git_head_commit: Annotated[ClearableCommit, Field(description=CLEARS)] | None = None,
    default_token_budget: TokenBudget | None = None,
    updated_by: Actor | None = None,
    request_id: RequestId | None = None,
) -> Configuration:
    """Change the project configuration (give at least one field)."""
    return await configuration.update_project_configuration(
        app_of(ctx),
        version=version,
        active_context_type=active_context_type,
        current_session_id=current_session_id,
        git_branch=git_branch,
        git_head_commit=git_head_commit,
        default_token_budget=default_token_budget,
        updated_by=updated_by,
        request_id=request_id,
    )
