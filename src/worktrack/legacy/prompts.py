"""Session prompt files: markdown with YAML frontmatter that holds ``schema_version``.

A file that cannot be read that way is skipped, with its name and the reason; the others
import. Prompt files come with the repository, so they are read as untrusted: YAML anchors
and aliases are refused (a few hundred bytes of aliases expand to megabytes, and a
self-referencing one to endless recursion), as are files over ``MAX_PROMPT_BYTES`` and
nesting Python cannot follow. Blocking file I/O: call ``read_prompts`` through
``asyncio.to_thread``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from worktrack.models.legacy import SkippedFile

_YAML = YAMLHandler()
_HEADING = "# "
MAX_PROMPT_BYTES = 1_048_576


class _AliasRefused(yaml.MarkedYAMLError):  # type: ignore[misc]  # yaml is untyped
    pass


class _PlainLoader(yaml.SafeLoader):  # type: ignore[misc]
    """``yaml.SafeLoader`` that refuses anchors (``&a``) and aliases (``*a``) before it
    composes anything from them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _AliasRefused(problem="an anchor or alias", problem_mark=event.start_mark)
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class PromptFile:
    file: str
    title: str  # the first "# " heading, else the file name without ".md"
    frontmatter: dict[str, Any]  # as JSON: dates as ISO text
    dated: datetime | None  # from a ``date`` key, when it holds one


class _Unusable(Exception):
    pass


def read_prompts(directory: Path) -> tuple[list[PromptFile], list[SkippedFile]]:
    """Every ``*.md`` file directly in ``directory``, by name."""
    found: list[PromptFile] = []
    skipped: list[SkippedFile] = []
    for path in sorted(directory.glob("*.md")):
        try:
            found.append(_read(path))
        except _Unusable as unusable:
            skipped.append(SkippedFile(file=path.name, reason=str(unusable)))
    return found, skipped


def _read(path: Path) -> PromptFile:
    if path.stat().st_size > MAX_PROMPT_BYTES:
        raise _Unusable(f"larger than {MAX_PROMPT_BYTES} bytes")
    try:
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _Unusable("not UTF-8 text") from None
    if not _YAML.detect(text):
        raise _Unusable("no YAML frontmatter (a '---' block at the top)")
    try:
        front, content = _YAML.split(text)
        data = yaml.load(front, Loader=_PlainLoader)
        if not isinstance(data, dict):
            raise _Unusable("the frontmatter is not a mapping of keys to values")
        if "schema_version" not in data:
            raise _Unusable("the frontmatter has no schema_version")
        frontmatter = _as_json(data)
    except ValueError:
        raise _Unusable("the frontmatter has no closing '---'") from None
    except _AliasRefused as refused:
        raise _Unusable(
            f"YAML anchors and aliases (& and *) are not read: {_problem(refused)}"
        ) from None
    except yaml.YAMLError as error:
        raise _Unusable(f"malformed YAML: {_problem(error)}") from None
    except RecursionError:
        raise _Unusable("the frontmatter is nested too deeply") from None
    return PromptFile(path.name, _title(content, path), frontmatter, _dated(data.get("date")))


def _problem(error: yaml.YAMLError) -> str:
    """What YAML found wrong, and on which file line (the text YAML reads starts on the
    opening "---" line, so its line 0 is the file's line 1)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem and error.problem_mark:
        return f"{error.problem} (near line {error.problem_mark.line + 1})"
    return str(error).split("\n", 1)[0]


def _title(content: str, path: Path) -> str:
    for line in content.splitlines():
        if line.startswith(_HEADING) and line[len(_HEADING) :].strip():
            return line[len(_HEADING) :].strip()
    return path.stem


def _dated(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    return None


def _as_json(value: Any) -> Any:
    """YAML's values as JSON's: dates become ISO text; what JSON cannot hold is refused."""
    if isinstance(value, dict):
        return {str(key): _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise _Unusable(f"the frontmatter holds {value}, which JSON cannot")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise _Unusable(f"the frontmatter holds a {type(value).__name__}, which JSON cannot")
