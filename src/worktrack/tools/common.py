"""What every tool module uses: the calling app and the toolset registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastmcp import Context
from mcp.types import ToolAnnotations

from worktrack.progress import Progress
from worktrack.services.app import App

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def app_of(ctx: Context) -> App:
    """The app, acting as WORKTRACK_ACTOR, else the client's name, else "unknown"."""
    app: App = ctx.lifespan_context["app"]
    return app.acting_as(app.settings.actor or _client_name(ctx) or "unknown")


def progress_of(ctx: Context, *, log_steps: bool = False) -> Progress:
    """A long call's progress as MCP progress notifications (sent when the client gave a
    progress token); with ``log_steps``, each new step is also logged to the client at
    info level (for calls that change data, like archiving: a read need not say more)."""
    steps: list[str] = []

    async def report(done: int, total: int | None, step: str) -> None:
        await ctx.report_progress(done, total, step)
        if log_steps and (not steps or steps[-1] != step):
            steps.append(step)
            await ctx.info(step, logger_name="worktrack")

    return report


def _client_name(ctx: Context) -> str | None:
    try:
        params = ctx.session.client_params
    except RuntimeError:
        return None
    name = params.client_info.name if params and params.client_info else None
    return name[:100] if name else None


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Awaitable[Any]]
    annotations: ToolAnnotations

    @property
    def read_only(self) -> bool:
        return bool(self.annotations.read_only_hint)


@dataclass
class Toolset:
    """A named group of tools, exposed or hidden together (WORKTRACK_TOOLSETS)."""

    name: str
    specs: list[ToolSpec] = field(default_factory=list)

    def _add(self, annotations: ToolAnnotations) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.specs.append(ToolSpec(fn, annotations))
            return fn

        return register

    def read(self, fn: F) -> F:
        return self._add(ToolAnnotations(read_only_hint=True, open_world_hint=False))(fn)

    def write(self, *, idempotent: bool = False, destructive: bool = False) -> Callable[[F], F]:
        # readOnlyHint and idempotentHint default to false in MCP; destructiveHint to true.
        return self._add(
            ToolAnnotations(
                destructive_hint=destructive,
                idempotent_hint=idempotent or None,
                open_world_hint=False,
            )
        )
