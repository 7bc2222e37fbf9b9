"""A legacy status file as the parser read it, and prompt files, turned into create
arguments checked against the rules a tool call meets. Pure: no database, no files.

Every value the file lacks gets a default, and each default is recorded; every problem is
reported with its line, all of them at once, so one run shows everything to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from worktrack.errors import ValidationError
from worktrack.legacy import normalise, tree
from worktrack.legacy.normalise import Commit, NotNormal
from worktrack.legacy.prompts import PromptFile
from worktrack.models import deployments, vendors, work_items
from worktrack.models.legacy import (
    EnhancementEntry,
    SkippedFile,
    VendorEntry,
    WorkItemEntry,
    entry,
)
from worktrack.report.parsed import (
    ParsedDeployment,
    ParsedEnhancement,
    ParsedStatus,
    ParsedVendor,
    ParsedWorkItem,
)

T = TypeVar("T")
UNKNOWN_VERSION = "unknown"
PROJECT_DESCRIPTION = "Imported from a legacy status file"
LEGACY_FRONTMATTER = {"schema_version": "legacy"}
ITEM_PRIORITY = 2
IMPORT_TIME = "the time of the import"


@dataclass(frozen=True)
class Default:
    entity: str
    field: str
    value: Any
    applied_to: str


@dataclass(frozen=True)
class ItemPlan:
    where: str  # "line 12", or the prompt file's name
    entry: WorkItemEntry  # metadata as it will be stored
    parent: int | None  # index of the parent in ``Plan.items``, which comes earlier
    created_at: datetime | None  # None: the time of the import
    prompt_file: str | None = None


@dataclass(frozen=True)
class DeploymentPlan:
    where: str
    deployed_at: datetime
    commit: Commit
    metadata: dict[str, Any]
    vendor_names: tuple[str, ...]


@dataclass
class Plan:
    vendors: list[tuple[str, VendorEntry]] = field(default_factory=list)
    items: list[ItemPlan] = field(default_factory=list)
    deployments: list[DeploymentPlan] = field(default_factory=list)
    enhancements: list[tuple[str, EnhancementEntry]] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    defaults: list[Default] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def build(parsed: ParsedStatus, prompts: list[PromptFile], default_budget: int) -> Plan:
    plan = Plan(errors=[f"line {number}: {problem}" for number, problem in parsed.errors])
    builder = _Builder(plan, default_budget)
    plan.vendors = [made for v in parsed.vendors if (made := builder.vendor(v))]
    builder.work_items(parsed.work_items)
    for prompt in prompts:
        builder.prompt_session(prompt)
    plan.deployments = [shipped for d in parsed.deployments if (shipped := builder.deployment(d))]
    plan.enhancements = [wish for e in parsed.enhancements if (wish := builder.enhancement(e))]
    return plan


class _Builder:
    def __init__(self, plan: Plan, default_budget: int) -> None:
        self.plan = plan
        self.default_budget = default_budget

    def default(self, entity: str, name: str, value: T, applied_to: str) -> T:
        self.plan.defaults.append(Default(entity, name, value, applied_to))
        return value

    def checked(self, where: str, make: Callable[[], T]) -> T | None:
        try:
            return make()
        except (ValidationError, NotNormal) as problem:
            message = problem.message if isinstance(problem, ValidationError) else str(problem)
            self.plan.errors.append(f"{where}: {message}")
            return None

    def vendor(self, found: ParsedVendor) -> tuple[str, VendorEntry] | None:
        name, where = found.name, f"line {found.line} (vendor {found.name!r})"

        def missing(key: str, value: T) -> T:
            return self.default("vendor", key, value, name)

        def count(key: str, value: int | None) -> int:
            return value if value is not None else missing(f"metadata.test_results.{key}", 0)

        counts = {
            "passing": count("passing", found.passing),
            "total": count("total", found.total),
            "skipped": count("skipped", found.skipped),
        }
        flags = found.formats
        if not found.formats_listed:
            flags = missing("metadata.format_support", dict(found.formats))
        version = found.extractor_version or missing("extractor_version", UNKNOWN_VERSION)

        def make() -> tuple[str, VendorEntry]:
            metadata = {"format_support": dict(flags), "test_results": counts}
            stored = vendors.stored_metadata(vendors.parse_metadata(metadata), version)
            status = normalise.word(found.status)
            checked = entry(
                VendorEntry, name=name, status=status, extractor_version=version, metadata=stored
            )
            return where, checked

        return self.checked(where, make)

    def work_items(self, items: list[ParsedWorkItem]) -> None:
        placed = tree.place(items)
        self.plan.errors += placed.errors
        position: dict[int, int] = {}  # file index -> index in plan.items
        for index in placed.order:
            item = items[index]
            parent = placed.parents[index]
            where = f"line {item.line}"
            made = self.checked(where, partial(self._item_entry, item))
            if item.created_at is None:
                self.default("work_item", "created_at", IMPORT_TIME, item.title)
            if made is not None and (parent is None or parent in position):
                position[index] = len(self.plan.items)
                at_parent = None if parent is None else position[parent]
                self.plan.items.append(ItemPlan(where, made, at_parent, item.created_at))

    def _item_entry(self, item: ParsedWorkItem) -> WorkItemEntry:
        title = item.title
        status = normalise.item_status(item.status) if item.status else None
        checked = entry(
            WorkItemEntry,
            item_type=item.item_type,
            title=title,
            description=self._item_description(item.item_type, title),
            status=status or self.default("work_item", "status", "active", title),
            priority=self.default("work_item", "priority", ITEM_PRIORITY, title),
            branch_name=item.branch or None,
            metadata={},
        )
        metadata = self._item_metadata(checked.item_type, title)
        stored = work_items.checked_metadata(checked.item_type, metadata)
        return checked.model_copy(update={"metadata": stored})

    def _item_description(self, item_type: str, title: str) -> str | None:
        """A project needs a description, which the legacy layout has no line for."""
        if item_type != "project":
            return None
        return self.default("work_item", "description", PROJECT_DESCRIPTION, title)

    def _item_metadata(self, item_type: str, title: str) -> dict[str, Any]:
        def missing(key: str, value: T) -> T:
            return self.default("work_item", f"metadata.{key}", value, title)

        if item_type == "session":
            return {
                "token_budget": missing("token_budget", self.default_budget),
                "prompts_count": missing("prompts_count", 0),
                "yaml_frontmatter": missing("yaml_frontmatter", dict(LEGACY_FRONTMATTER)),
            }
        return {}

    def prompt_session(self, prompt: PromptFile) -> None:
        """A session item for the file, or the file skipped with the rule it breaks."""
        front, defaults = prompt.frontmatter, []
        budget, count = front.get("token_budget"), front.get("prompts_count")
        if budget is None:
            budget = self.default_budget
            defaults.append(Default("session_prompt", "metadata.token_budget", budget, prompt.file))
        if count is None:
            count = 0
            defaults.append(Default("session_prompt", "metadata.prompts_count", count, prompt.file))
        metadata = {"token_budget": budget, "prompts_count": count, "yaml_frontmatter": front}
        try:
            stored = work_items.checked_metadata("session", metadata)
            made = entry(
                WorkItemEntry,
                item_type="session",
                title=prompt.title,
                status="active",
                priority=ITEM_PRIORITY,
                branch_name=None,
                metadata=stored,
            )
        except ValidationError as problem:
            self.plan.skipped.append(SkippedFile(file=prompt.file, reason=problem.message))
            return
        if prompt.dated is None:
            defaults.append(Default("session_prompt", "created_at", IMPORT_TIME, prompt.file))
        defaults.append(Default("session_prompt", "priority", ITEM_PRIORITY, prompt.file))
        self.plan.defaults += defaults
        self.plan.items.append(ItemPlan(prompt.file, made, None, prompt.dated, prompt.file))

    def deployment(self, found: ParsedDeployment) -> DeploymentPlan | None:
        label = f"PR #{found.pr_number}" if found.pr_number else f"line {found.line}"
        where = f"line {found.line} (deployment {label})"

        def make() -> DeploymentPlan:
            if found.pr_number is None:
                raise NotNormal("the heading names no PR ('### <time> UTC - PR #<n>')")
            if found.commit is None:
                raise NotNormal("it has no '- **Commit**:' line")
            title = found.title or self.default("deployment", "metadata.pr_title", label, label)
            tests = found.tests or self.default("deployment", "metadata.test_summary", {}, label)
            metadata = {
                "pr_number": found.pr_number,
                "pr_title": title,
                "test_summary": tests,
                "constitutional_compliance": self._compliance(found, label),
            }
            checked = deployments.checked_metadata(metadata).model_dump(mode="json")
            commit = normalise.commit(found.commit)
            return DeploymentPlan(where, found.deployed_at, commit, checked, found.vendors)

        return self.checked(where, make)

    def _compliance(self, found: ParsedDeployment, label: str) -> bool:
        if found.compliance is not None:
            return found.compliance
        return self.default("deployment", "metadata.constitutional_compliance", False, label)

    def enhancement(self, found: ParsedEnhancement) -> tuple[str, EnhancementEntry] | None:
        where = f"line {found.line} (enhancement {found.title!r})"

        def make() -> tuple[str, EnhancementEntry]:
            status = normalise.word(found.status) if found.status else None
            checked = entry(
                EnhancementEntry,
                title=found.title,
                description=found.description or None,
                priority=found.priority,
                status=status or self.default("enhancement", "status", "planned", found.title),
                target_quarter=normalise.quarter(found.target),
            )
            return where, checked

        return self.checked(where, make)
