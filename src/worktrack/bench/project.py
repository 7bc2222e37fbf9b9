"""The synthetic project the benchmark measures: what a create call would be given, no I/O.

One unit is a realistic project: 45 vendors, 1,200 work items in six levels (depths 0..5)
with 400 dependencies, 50 deployments and 10 enhancements. ``scale`` multiplies every
count, as history: the newest unit's work has the realistic mix of statuses (30% active,
10% blocked), the older units' projects and enhancements are finished, as in a
long-lived project. Everything comes from one seeded random generator, so a run is
repeatable and the ids the scenarios use are known before anything is stored.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

ITEMS_PER_LEVEL = (4, 16, 80, 240, 400, 460)  # depths 0..5: 1,200 items under 4 projects
VENDORS = 45
DEPLOYMENTS = 50
ENHANCEMENTS = 10
DEPENDENCIES = 400
ACTOR = "bench-seed"
SPAN = timedelta(days=365)  # how far back the seeded history reaches
_NEARBY = 40  # a link joins items at most this many apart in creation order
_STATUSES = ("completed",) * 6 + ("active",) * 3 + ("blocked",)
_QUARTERS = ("2026-Q4", "2027-Q1", "2027-Q2", "2027-Q3")


@dataclass(frozen=True)
class Item:
    """The arguments of one ``create_work_item`` call, with its id and time."""

    id: str
    item_type: str
    title: str
    parent: Item | None
    status: str
    priority: int
    metadata: dict[str, Any]
    branch_name: str | None
    commit_hash: str | None
    pr_number: int | None
    at: datetime
    description: str | None = None


@dataclass(frozen=True)
class Link:
    source_id: str
    target_id: str
    dependency_type: str
    at: datetime


@dataclass(frozen=True)
class Vendor:
    id: str
    name: str
    status: str
    extractor_version: str
    metadata: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class Deployment:
    id: str
    deployed_at: datetime
    commit_hash: str
    metadata: dict[str, Any]
    vendor_ids: list[str]
    work_item_ids: list[str]


@dataclass(frozen=True)
class Enhancement:
    id: str
    title: str
    description: str
    priority: int
    status: str
    target_quarter: str
    requires_constitutional_principles: list[str]
    depends_on_ids: list[str]
    at: datetime


@dataclass
class Project:
    levels: list[list[Item]]
    links: list[Link]
    vendors: list[Vendor]
    deployments: list[Deployment]
    enhancements: list[Enhancement]

    @property
    def items(self) -> list[Item]:
        return [item for level in self.levels for item in level]


def scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale))


class _Maker:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.start = now - SPAN - timedelta(days=1)

    def id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex40(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def at(self, n: int, count: int) -> datetime:
        """The ``n``-th of ``count`` moments spread over the seeded history."""
        return self.start + SPAN * ((n + 1) / (count + 1))


@dataclass(frozen=True)
class _Place:
    """Where an item sits before it exists: its parent's index one level up, its root."""

    depth: int
    n: int
    parent: int | None
    root: int


def _places(counts: list[int]) -> list[list[_Place]]:
    levels: list[list[_Place]] = []
    for depth, count in enumerate(counts):
        above = levels[-1] if levels else []
        level = []
        for n in range(count):
            # Contiguous blocks: each parent's children are neighbours, like real sessions.
            parent = n * len(above) // count if above else None
            root = above[parent].root if parent is not None else n
            level.append(_Place(depth, n, parent, root))
        levels.append(level)
    return levels


def build(scale: float, now: datetime, seed: int = 6) -> Project:
    make = _Maker(seed, now)
    places = _places([scaled(n, scale) for n in ITEMS_PER_LEVEL])
    # History runs project by project: a root's subtree is created before the next root.
    order = sorted((p for level in places for p in level), key=lambda p: (p.root, p.depth, p.n))
    times = {(p.depth, p.n): make.at(k, len(order)) for k, p in enumerate(order)}
    finished_roots = len(places[0]) - min(ITEMS_PER_LEVEL[0], len(places[0]))
    vendors = [_vendor(make, n) for n in range(scaled(VENDORS, scale))]
    levels: list[list[Item]] = []
    for depth, level in enumerate(places):
        above = levels[-1] if levels else []
        levels.append(
            [
                _item(
                    make,
                    place,
                    above[place.parent] if place.parent is not None else None,
                    times[(depth, place.n)],
                    finished=place.root < finished_roots,
                )
                for place in level
            ]
        )
    items = [item for level in levels for item in level]
    tasks = [item for level in levels[2:] for item in level]
    deployments = scaled(DEPLOYMENTS, scale)
    return Project(
        levels=levels,
        links=_links(make, tasks, scaled(DEPENDENCIES, scale)),
        vendors=vendors,
        deployments=[_deployment(make, n, deployments, vendors, items) for n in range(deployments)],
        enhancements=_enhancements(make, scaled(ENHANCEMENTS, scale)),
    )


def _type_of(depth: int, n: int) -> str:
    if depth == 0:
        return "project"
    if depth == 1:
        return "session"
    return "research" if depth == 2 and n % 5 == 4 else "task"


def _metadata(make: _Maker, item_type: str, n: int, status: str) -> dict[str, Any]:
    rng = make.rng
    if item_type == "project":
        return {
            "target_quarter": rng.choice(_QUARTERS),
            "constitutional_principles": ["Test-first", "Library-first"],
        }
    if item_type == "session":
        return {
            "token_budget": 200_000,
            "prompts_count": rng.randint(0, 40),
            "yaml_frontmatter": {"schema_version": "1.0", "goal": f"session {n}"},
        }
    if item_type == "research":
        return {
            "research_questions": [f"Which layout does source {n} use?"],
            "references": [f"https://example.org/spec/{n}"],
        }
    found: dict[str, Any] = {"estimated_hours": rng.choice((1, 2, 4, 8))}
    if status == "completed":
        found["actual_hours"] = rng.choice((1, 2, 3, 5, 8))
    if status == "blocked":
        found["blocked_reason"] = "waiting for a sample file from the vendor"
    return found


def _item(
    make: _Maker, place: _Place, parent: Item | None, at: datetime, *, finished: bool
) -> Item:
    rng, depth, n = make.rng, place.depth, place.n
    item_type = _type_of(depth, n)
    status = rng.choice(_STATUSES)
    if finished or (depth == 0 and status == "completed"):
        # Old projects are done; current ones are still open, whatever their parts are.
        status = "completed" if finished else "active"
    done = status == "completed"
    return Item(
        id=make.id(),
        item_type=item_type,
        title=f"{item_type.title()} {depth}.{n}: parse the vendor statement layout",
        parent=parent,
        status=status,
        priority=rng.randint(0, 4),
        metadata=_metadata(make, item_type, n, status),
        branch_name=f"feature/{depth}-{n}" if item_type == "task" and n % 3 == 0 else None,
        commit_hash=make.hex40() if done and n % 2 == 0 else None,
        pr_number=100 + n if done and n % 2 == 0 else None,
        at=at,
        description=(
            f"Extraction platform, stream {n}: parsers, QA and releases."
            if item_type == "project"
            else None
        ),
    )


def _links(make: _Maker, tasks: list[Item], count: int) -> list[Link]:
    """Links between nearby tasks. The earlier-created item always comes first, so no
    set of links closes a cycle."""
    pairs: set[tuple[int, int]] = set()
    for _ in range(count * 20):
        if len(pairs) == count or len(tasks) < 2:
            break
        first = make.rng.randrange(len(tasks) - 1)
        pairs.add((first, min(len(tasks) - 1, first + make.rng.randint(1, _NEARBY))))
    links = []
    for first, then in sorted(pairs):
        before, after = tasks[first], tasks[then]
        at = after.at + timedelta(seconds=1)
        if make.rng.random() < 0.5:
            links.append(Link(before.id, after.id, "blocks", at))
        else:
            links.append(Link(after.id, before.id, "depends_on", at))
    return links


def _vendor(make: _Maker, n: int) -> Vendor:
    rng = make.rng
    total = rng.randint(20, 120)
    skipped = rng.randint(0, 5)
    version = f"1.{n % 7}.{n % 3}"
    return Vendor(
        id=make.id(),
        name=f"vendor_{n:04d}",
        status="broken" if n % 7 == 3 else "operational",
        extractor_version=version,
        metadata={
            "format_support": {
                "excel": rng.random() < 0.8,
                "csv": rng.random() < 0.9,
                "pdf": rng.random() < 0.5,
                "ocr": rng.random() < 0.2,
            },
            "test_results": {
                "passing": rng.randint(0, total - skipped),
                "total": total,
                "skipped": skipped,
            },
            "manifest_compliant": n % 5 != 0,
        },
        at=make.start + timedelta(minutes=n),
    )


def _deployment(
    make: _Maker, n: int, count: int, vendors: list[Vendor], items: list[Item]
) -> Deployment:
    rng = make.rng
    commit = make.hex40()
    return Deployment(
        id=make.id(),
        deployed_at=make.at(n, count),
        commit_hash=commit,
        metadata={
            "pr_number": 1000 + n,
            "pr_title": f"Release {n}: extractor fixes",
            "commit_hash": commit,
            "test_summary": {"unit": rng.randint(50, 400), "integration": rng.randint(5, 60)},
            "constitutional_compliance": n % 9 != 0,
        },
        vendor_ids=[v.id for v in rng.sample(vendors, min(len(vendors), rng.randint(1, 3)))],
        work_item_ids=[i.id for i in rng.sample(items, min(len(items), rng.randint(0, 2)))],
    )


def _enhancements(make: _Maker, count: int) -> list[Enhancement]:
    found: list[Enhancement] = []
    current = count - min(ENHANCEMENTS, count)  # the older ones are all completed
    for n in range(count):
        # Each may depend on one earlier enhancement of its unit of ten: never a cycle.
        earlier = found[-(n % ENHANCEMENTS) :] if n % ENHANCEMENTS else []
        needs = sorted({make.rng.choice(earlier).id}) if earlier and n % 2 else []
        found.append(
            Enhancement(
                id=make.id(),
                title=f"Enhancement {n}: support scanned statements",
                description=f"Add OCR fallback for vendor layouts, step {n}.\nDetails follow.",
                priority=1 + n % 5,
                status=("planned", "approved", "implementing", "completed")[n % 4]
                if n >= current
                else "completed",
                target_quarter=_QUARTERS[n % len(_QUARTERS)],
                requires_constitutional_principles=["Test-first"],
                depends_on_ids=needs,
                at=make.at(n, count),
            )
        )
    return found
