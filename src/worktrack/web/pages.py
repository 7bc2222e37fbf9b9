"""The board's HTML: jinja2 templates shipped in the package, autoescaped.

Every value written into a page goes through ``_finalize``: strings have their invisible
and bidirectional-control characters revealed (as tool results do), and autoescaping then
makes them text, never markup. The one place stored text becomes markup is ``markdown``:
markdown-it with raw HTML off (it is escaped), images off (an image would make the browser
fetch another host) and its own link check (no ``javascript:`` or ``data:`` links).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from worktrack.hierarchy import percent_complete
from worktrack.text import reveal
from worktrack.web import svg

STATUS_NAMES = {
    "active": "Active",
    "in_progress": "In progress",
    "blocked": "Blocked",
    "deferred": "Deferred",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


def _finalize(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Markup):
        return reveal(value)
    return "" if value is None else value


@functools.cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    return md


def markdown(text: str | None) -> Markup:
    """Stored markdown as safe HTML: raw HTML escaped, no images, only safe links."""
    if not text:
        return Markup("")
    return Markup(_markdown().render(reveal(text)))  # html off: escaped


def _as_json(value: Any) -> str:
    return reveal(json.dumps(value, ensure_ascii=False, default=str))


def _when(value: Any) -> str:
    """A time as the page shows it (UTC, to the minute); text as it is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _percent(done: int, total: int) -> int:
    return percent_complete(done, total) or 0


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("worktrack.web", "templates"),
        autoescape=True,
        auto_reload=False,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = markdown
    env.filters["percent"] = _percent
    env.filters["as_json"] = _as_json
    env.filters["when"] = _when
    env.globals["status_name"] = lambda status: STATUS_NAMES.get(status, status)
    env.globals["layout"] = svg.layout
    env.globals["svg"] = svg
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
