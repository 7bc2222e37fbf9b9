"""The project configuration at the boundary: argument types and the result."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from worktrack.models.common import Envelope, OneLine, Shown, Text, Timestamp

ContextType = Literal["feature", "maintenance", "research"]
TokenBudget = Annotated[int, Field(ge=1000, le=1_000_000)]


GitBranch = Annotated[Text, Field(max_length=200), OneLine]


class GitLive(BaseModel):
    """The repository as it is now; never stored."""

    model_config = ConfigDict(frozen=True)

    branch: Shown | None
    head_commit: str
    dirty: bool


class Configuration(Envelope):
    """The one configuration row; the defaults are what a fresh database answers."""

    id: int = 1
    version: int = 1
    active_context_type: ContextType = "feature"
    current_session_id: str | None = None
    git_branch: Shown | None = None
    git_head_commit: str | None = None
    default_token_budget: int = 200_000
    database_healthy: bool = True
    last_health_check_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    updated_by: Shown | None = None
    git_live: GitLive | None = None
