"""The calls the benchmark measures, and the landmarks of the seeded project they use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from worktrack.bench.project import Project
from worktrack.bench.servers import NOOP
from worktrack.services import board, deployments, readiness, reports, vendors, work_items

Arguments = dict[str, Any]


@dataclass
class Landmarks:
    """Ids in the seeded project, and what the write scenarios have changed so far."""

    vendor_name: str
    leaf_id: str
    root_id: str
    create_under: str
    update_id: str
    deployment_vendor_ids: list[str]
    deployment_item_ids: list[str]
    deployment_id: str
    deep_cursor: str | None = None
    update_version: int = 1
    calls: int = 0

    @classmethod
    def of(cls, project: Project) -> Landmarks:
        """Places in the newest project, where current work happens (the last item of
        each level belongs to the last root: children come in contiguous blocks)."""
        levels = project.levels
        return cls(
            vendor_name=project.vendors[len(project.vendors) // 2].name,
            leaf_id=levels[5][-1].id,
            root_id=levels[0][-1].id,
            create_under=levels[4][-1].id,
            update_id=levels[3][-1].id,
            deployment_vendor_ids=[v.id for v in project.vendors[:2]],
            deployment_item_ids=[levels[3][-1].id],
            deployment_id=project.deployments[-1].id,
        )

    def next_call(self) -> int:
        self.calls += 1
        return self.calls


@dataclass(frozen=True)
class Scenario:
    name: str
    tool: str
    what: str
    arguments: Callable[[Landmarks], Arguments]
    # What the tool calls with the same arguments (and the app as first argument).
    service: Callable[..., Awaitable[Any]] | None
    write: bool = False
    # Writes that need what the previous call returned (the version an update must pass).
    observe: Callable[[Landmarks, dict[str, Any]], None] = field(default=lambda _m, _r: None)
    # A page of the board (its path) instead of a tool: timed as a GET in memory.
    page: str | None = None


def _create(marks: Landmarks) -> Arguments:
    return {
        "item_type": "task",
        "title": f"Benchmark task {marks.next_call()}",
        "parent_id": marks.create_under,
        "metadata": {"estimated_hours": 2},
    }


def _update(marks: Landmarks) -> Arguments:
    return {
        "id": marks.update_id,
        "version": marks.update_version,
        "title": f"Benchmark edit {marks.next_call()}",
    }


def _updated(marks: Landmarks, result: dict[str, Any]) -> None:
    marks.update_version = int(result["version"])


def _deployment(marks: Landmarks) -> Arguments:
    n = marks.next_call()
    commit = f"{n:040x}"
    return {
        "commit_hash": commit,
        "metadata": {
            "pr_number": n,
            "pr_title": f"Benchmark release {n}",
            "test_summary": {"unit": 120, "integration": 8},
            "constitutional_compliance": True,
        },
        "affected_vendor_ids": marks.deployment_vendor_ids,
        "related_work_item_ids": marks.deployment_item_ids,
    }


def _deep(marks: Landmarks) -> Arguments:
    assert marks.deep_cursor is not None, "the deep cursor is found before reads run"
    return {"cursor": marks.deep_cursor}


def _fixed(**arguments: Any) -> Callable[[Landmarks], Arguments]:
    return lambda _marks: dict(arguments)


SCENARIOS = (
    Scenario("noop", NOOP, "no-op tool (the floor)", _fixed(), None),
    Scenario(
        "vendor_query",
        "query_vendor_status",
        "one vendor by name",
        lambda m: {"name": m.vendor_name},
        vendors.query_vendor_status,
    ),
    Scenario(
        "hierarchy_leaf",
        "query_work_item",
        "item + hierarchy, from a leaf",
        lambda m: {"id": m.leaf_id},
        work_items.query_work_item,
    ),
    Scenario(
        "hierarchy_root",
        "query_work_item",
        "item + hierarchy, from a root",
        lambda m: {"id": m.root_id},
        work_items.query_work_item,
    ),
    Scenario(
        "list_first_page",
        "list_work_items",
        "summary list, first page",
        _fixed(),
        work_items.list_work_items,
    ),
    Scenario(
        "list_deep_page",
        "list_work_items",
        "summary list, deep cursor page",
        _deep,
        work_items.list_work_items,
    ),
    Scenario("ready_work", "ready_work", "ready work, top 10", _fixed(), readiness.ready_work),
    Scenario(
        "blocked_work",
        "blocked_work",
        "blocked work, top 20, with blockers",
        _fixed(),
        readiness.blocked_work,
    ),
    Scenario(
        "report",
        "generate_status_report",
        "full status report",
        _fixed(detail="full"),
        reports.generate_status_report,
    ),
    Scenario(
        "report_summary",
        "generate_status_report",
        "status report digest (the default)",
        _fixed(),
        reports.generate_status_report,
    ),
    Scenario(
        "board",
        "GET /",
        "the board's page (HTML)",
        _fixed(),
        board.board,
        page="/",
    ),
    Scenario(
        "create",
        "create_work_item",
        "create a task at depth 5",
        _create,
        work_items.create_work_item,
        write=True,
    ),
    Scenario(
        "update",
        "update_work_item",
        "update a title",
        _update,
        work_items.update_work_item,
        write=True,
        observe=_updated,
    ),
    Scenario(
        "record_deployment",
        "record_deployment",
        "deployment, 2 vendors",
        _deployment,
        deployments.record_deployment,
        write=True,
    ),
)
NAMES = tuple(s.name for s in SCENARIOS)


def chosen(names: tuple[str, ...]) -> list[Scenario]:
    """The scenarios named (all when none is), in the order reads first, writes last."""
    unknown = set(names) - set(NAMES)
    if unknown:
        raise ValueError(f"unknown scenario {sorted(unknown)[0]!r}; choose from {', '.join(NAMES)}")
    return [s for s in SCENARIOS if not names or s.name in names]
