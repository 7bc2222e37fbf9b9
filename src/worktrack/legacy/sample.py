"""A synthetic legacy status file and session prompt files, for benchmarks and tests.

``write_sample(directory)`` writes ``directory/.project_status.md`` and
``directory/prompts/session-NNNN.md`` in the legacy layout of ``tests/fixtures/legacy``:
single-line and three-line vendor entries (some with skipped counts and versions), work
items nested project > session > task > research with ``Parent`` lines, deployments with
tests, compliance and vendor lists, enhancements with quarters in both forms. The same
arguments always give the same bytes, and the files import cleanly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

GENERATED_AT = datetime(2025, 10, 10, 14, 30, tzinfo=UTC)
SESSIONS_PER_PROJECT = 4
TASKS_PER_SESSION = 6
_WORDS = ("invoice", "ledger", "remittance", "carrier", "audit", "export", "parser", "cache")
_FORMATS = ("excel", "csv", "pdf", "ocr")


@dataclass(frozen=True)
class Sample:
    status_file: Path
    prompts_dir: Path
    vendors: int
    work_items: int
    deployments: int
    enhancements: int
    prompts: int


@dataclass(frozen=True)
class _Item:
    depth: int
    item_type: str
    title: str
    parent: str | None


def write_sample(
    directory: Path,
    *,
    vendors: int = 45,
    work_items: int = 1200,
    deployments: int = 100,
    prompts: int = 200,
    enhancements: int = 20,
    completed_share: float = 0.25,
    seed: int = 0,
    generated_at: datetime = GENERATED_AT,
) -> Sample:
    """Write the files; ``completed_share`` of the work items are completed (the rest
    active or blocked), each created up to a year before ``generated_at``."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"vendor_{n:03d}" if n % 5 else f"Vendor {n:03d} Co" for n in range(vendors)]
    parts = [
        f"# Project Status - {generated_at.isoformat()}",
        _vendors(rng, names),
        _work_items(rng, work_items, completed_share, generated_at),
        _deployments(rng, deployments, names, generated_at),
        _enhancements(rng, enhancements),
        f"---\n*Generated at {generated_at.isoformat()}*\n",
    ]
    status_file = directory / ".project_status.md"
    status_file.write_text("\n\n".join(parts), encoding="utf-8")
    prompts_dir = directory / "prompts"
    prompts_dir.mkdir(exist_ok=True)
    for n in range(prompts):
        (prompts_dir / f"session-{n:04d}.md").write_text(
            _prompt(rng, n, generated_at), encoding="utf-8"
        )
    return Sample(status_file, prompts_dir, vendors, work_items, deployments, enhancements, prompts)


def _phrase(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(3)).capitalize()


def _vendors(rng: random.Random, names: list[str]) -> str:
    lines, operational = [], 0
    for n, name in enumerate(names):
        status = "broken" if n % 7 == 3 else "operational"
        operational += status == "operational"
        total = rng.randint(10, 90)
        passing = rng.randint(0, total - 2)
        counts = f"{passing}/{total} tests" + (f", {n % 3} skipped" if n % 2 else "")
        flags = [flag for flag in _FORMATS if rng.random() < 0.5]
        formats = ", ".join(flags) or "none"
        version = f" v{n % 4}.{n % 10}.{n % 7}" if n % 4 == 1 else ""
        if n % 3 == 0:
            lines += [f"- **{name}**: {status}", f"  ({counts})", f"  [{formats}]{version}"]
        else:
            lines.append(f"- **{name}**: {status} ({counts}) [{formats}]{version}")
    heading = f"## Operational Vendors ({operational}/{len(names)})"
    return "\n".join([heading, "", *lines, ""])


def _tree(count: int) -> list[_Item]:
    """Projects of sessions of tasks, each session's first task with a research item."""
    items: list[_Item] = []

    def add(depth: int, item_type: str, parent: str | None) -> str:
        title = f"{item_type.capitalize()} {len(items):05d}"
        items.append(_Item(depth, item_type, title, parent))
        return title

    while len(items) < count:
        project = add(0, "project", None)
        for _ in range(SESSIONS_PER_PROJECT):
            session = add(1, "session", project)
            for n in range(TASKS_PER_SESSION):
                task = add(2, "task", session)
                if n == 0:
                    add(3, "research", task)
    return items[:count]


def _work_items(rng: random.Random, count: int, completed: float, now: datetime) -> str:
    lines = [f"## Active Work Items ({count})", ""]
    for item in _tree(count):
        pad = "  " * item.depth
        roll = rng.random()
        status = "completed" if roll < completed else ("blocked" if roll > 0.9 else "active")
        created = now - timedelta(days=rng.randint(1, 365), hours=rng.randint(0, 23))
        lines += [
            f"{pad}### {item.title} ({item.item_type})",
            f"{pad}- **Status**: {status}",
            f"{pad}- **Created**: {created:%Y-%m-%d %H:%M:%S} UTC",
        ]
        if rng.random() < 0.2:
            lines.append(f"{pad}- **Branch**: feature/{rng.choice(_WORDS)}-{rng.randint(1, 999)}")
        if item.parent is not None:
            lines.append(f"{pad}- **Parent**: {item.parent}")
    return "\n".join([*lines, ""])


def _deployments(rng: random.Random, count: int, names: list[str], now: datetime) -> str:
    lines = [f"## Recent Deployments (Last {count})"]
    at = now
    for n in range(count):
        at -= timedelta(hours=rng.randint(1, 72))
        lines += [
            "",
            f"### {at:%Y-%m-%d %H:%M:%S} UTC - PR #{count - n + 100}",
            f"- **Title**: {_phrase(rng)}",
            f"- **Commit**: `{rng.getrandbits(160):040x}`",
            f"- **Tests**: unit: {rng.randint(0, 400)}, integration: {rng.randint(0, 60)}",
            f"- **Constitutional Compliance**: {'✓' if rng.random() < 0.9 else '✗'}",
        ]
        linked = sorted(rng.sample(names, k=min(len(names), rng.randint(0, 3))))
        if linked:
            lines.append(f"- **Vendors**: {', '.join(linked)}")
    return "\n".join([*lines, ""])


def _enhancements(rng: random.Random, count: int) -> str:
    lines = [f"## Future Enhancements ({count})"]
    for n in range(count):
        year, quarter = 2026 + n % 2, 1 + n % 4
        target = f"{year}-Q{quarter}" if n % 2 else f"Q{quarter} {year}"
        lines += [
            "",
            f"### {_phrase(rng)} enhancement {n} (Priority: {1 + n % 5})",
            f"- **Status**: {rng.choice(('planned', 'approved', 'implementing'))}",
            f"- **Target**: {target}",
            f"- **Description**: {_phrase(rng)} for {_phrase(rng).lower()}",
        ]
    return "\n".join([*lines, ""])


def _prompt(rng: random.Random, n: int, now: datetime) -> str:
    day = (now - timedelta(days=n % 365)).date()
    return (
        "---\n"
        "schema_version: 1.0\n"
        f"session_id: s-{n:04d}\n"
        f"token_budget: {rng.randint(1, 1000) * 1000}\n"
        f"prompts_count: {rng.randint(0, 12)}\n"
        f"date: {day.isoformat()}\n"
        "---\n\n"
        f"# Session prompt {n}\n\n"
        f"Work on {_phrase(rng).lower()}.\n"
    )
