"""Planning an import: normal forms, parents by title, defaults named, errors by line. Pure."""

from __future__ import annotations

import pytest

from worktrack.legacy import normalise
from worktrack.legacy.normalise import NotNormal
from worktrack.legacy.plan import IMPORT_TIME, UNKNOWN_VERSION, Plan, build
from worktrack.report.parse import parse

HEAD = "# Project Status - 2025-10-10T14:30:00+00:00\n\n"


def _plan(body: str, budget: int = 200_000) -> Plan:
    return build(parse(HEAD + body), [], budget)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2026-Q1", "2026-Q1"),
        ("Q1 2026", "2026-Q1"),
        ("q4-2026", "2026-Q4"),
        ("2027 Q2", "2027-Q2"),
        ("2027Q3", "2027-Q3"),
        ("  Q2 2026 ", "2026-Q2"),
        ("", None),
        (None, None),
    ],
)
def test_quarters_in_any_usual_form(written: str | None, stored: str | None) -> None:
    assert normalise.quarter(written) == stored


@pytest.mark.parametrize("written", ["Q5 2026", "2026-Q0", "next year", "Q1 26", "2026-Q1-Q2"])
def test_what_is_no_quarter_is_refused(written: str) -> None:
    with pytest.raises(NotNormal, match="is not a quarter"):
        normalise.quarter(written)


@pytest.mark.parametrize(
    ("written", "text", "full"),
    [
        (
            "A767C76FB008F86BEBB2737F6A6F0FB23C6F5DA2",
            "a767c76fb008f86bebb2737f6a6f0fb23c6f5da2",
            True,
        ),
        (" a767c76 ", "a767c76", False),
        ("a767", "a767", False),
    ],
)
def test_commits_full_or_abbreviated(written: str, text: str, full: bool) -> None:
    assert normalise.commit(written) == normalise.Commit(text, full)


@pytest.mark.parametrize(
    "written", ["-a767c76", "--output=x", "HEAD~1", "a76", "g767c76", "a" * 41]
)
def test_what_is_no_hash_is_refused(written: str) -> None:
    with pytest.raises(NotNormal, match="is not a commit hash"):
        normalise.commit(written)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Active", "active"),
        ("In Progress", "in_progress"),
        ("in-progress", "in_progress"),
        ("WIP", "in_progress"),
        ("blocked", "blocked"),
        ("On hold", "deferred"),
        ("Deferred", "deferred"),
        ("Done", "completed"),
        ("completed", "completed"),
        ("Canceled", "cancelled"),
        ("cancelled", "cancelled"),
    ],
)
def test_legacy_status_words_map_to_the_six_statuses(written: str, stored: str) -> None:
    assert normalise.item_status(written) == stored
    plan = _plan(f"## Active Work Items (1)\n\n### A (task)\n- **Status**: {written}\n")
    assert plan.errors == [] and plan.items[0].entry.status == stored


ITEMS = """## Active Work Items (4)

### Alpha (project)
- **Status**: Active
### Task one (task)
- **Status**: blocked
- **Parent**: Beta
### Beta (session)
- **Status**: active
- **Parent**: Alpha
### Task two (research)
- **Parent**: Task one
"""


def test_parents_named_by_title_without_indentation_come_first() -> None:
    plan = _plan(ITEMS)
    assert plan.errors == []
    titles = [item.entry.title for item in plan.items]
    assert titles == ["Alpha", "Beta", "Task one", "Task two"]  # parents before children
    parents = [None if i.parent is None else titles[i.parent] for i in plan.items]
    assert parents == [None, "Alpha", "Beta", "Task one"]
    assert plan.items[0].entry.status == "active"  # status words ignore case
    applied = {(d.field, d.applied_to): d.value for d in plan.defaults}
    assert applied["status", "Task two"] == "active"
    assert applied["created_at", "Alpha"] == IMPORT_TIME
    assert applied["description", "Alpha"]
    assert plan.items[0].entry.description == applied["description", "Alpha"]
    assert "description" not in plan.items[0].entry.metadata
    assert applied["metadata.token_budget", "Beta"] == 200_000
    assert plan.items[1].entry.metadata["yaml_frontmatter"] == {"schema_version": "legacy"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            "### A (task)\n- **Parent**: Nobody\n",
            "its Parent line names 'Nobody', but no work item in the file is titled so",
        ),
        (
            "### A (task)\n### B (task)\n### B (task)\n### C (task)\n- **Parent**: B\n",
            "its Parent line names 'B', but 2 work items are titled so",
        ),
        (
            "### A (project)\n  ### B (task)\n  - **Parent**: C\n### C (project)\n",
            "its Parent line names 'C', but it is listed under 'A'",
        ),
        ("### A (task)\n- **Parent**: B\n### B (task)\n- **Parent**: A\n", "form a cycle"),
        ("### A (sprint)\n", "item_type: Input should be 'project', 'session', 'task' or"),
        ("### A (task)\n- **Status**: finito\n", "status: Input should be 'active', 'in_progress'"),
    ],
)
def test_work_item_problems_name_their_line(body: str, problem: str) -> None:
    count = body.count("### ")
    plan = _plan(f"## Active Work Items ({count})\n\n{body}")
    assert len(plan.errors) >= 1 and all(error.startswith("line ") for error in plan.errors)
    assert any(problem in error for error in plan.errors), plan.errors


def test_nesting_deeper_than_five_levels_is_refused() -> None:
    chain = "".join(
        f"### Level {n} (task)\n" + (f"- **Parent**: Level {n - 1}\n" if n else "")
        for n in range(7)
    )
    body = f"## Active Work Items (7)\n\n{chain}"
    line = (HEAD + body).split("\n").index("### Level 6 (task)") + 1
    assert _plan(body).errors == [f"line {line}: nested 6 levels below a root (at most 5)"]


def test_a_vendor_with_nothing_but_a_status_gets_every_default() -> None:
    plan = _plan("## Operational Vendors (1/1)\n\n- **acme**: operational\n")
    assert plan.errors == []
    [(where, vendor)] = plan.vendors
    assert where == "line 5 (vendor 'acme')"
    assert vendor.extractor_version == UNKNOWN_VERSION
    assert vendor.metadata == {
        "format_support": {"excel": False, "csv": False, "pdf": False, "ocr": False},
        "test_results": {"passing": 0, "total": 0, "skipped": 0},
        "extractor_version": UNKNOWN_VERSION,
    }
    fields = [d.field for d in plan.defaults]
    assert fields == [
        "metadata.test_results.passing",
        "metadata.test_results.total",
        "metadata.test_results.skipped",
        "metadata.format_support",
        "extractor_version",
    ]


def test_vendor_problems_name_their_line() -> None:
    plan = _plan(
        "## Operational Vendors (1/2)\n\n"
        "- **a**: operational (5/4 tests) [csv]\n"
        "- **b**: sideways (1/4 tests) [csv]\n"
    )
    assert plan.errors == [
        "line 5 (vendor 'a'): metadata.test_results: passing + skipped must not exceed total",
        "line 6 (vendor 'b'): status: Input should be 'operational' or 'broken'",
    ]


def test_deployment_gaps_are_defaults_or_errors() -> None:
    plan = _plan(
        "## Recent Deployments (Last 3)\n\n"
        "### 2025-10-09 21:30:00 UTC - PR #7\n"
        "- **Commit**: `a767c76fb008f86bebb2737f6a6f0fb23c6f5da2`\n"
        "### 2025-10-08 21:30:00 UTC\n"
        "- **Commit**: `a767c76fb008f86bebb2737f6a6f0fb23c6f5da2`\n"
        "### 2025-10-07 21:30:00 UTC - PR #9\n"
        "- **Title**: No commit\n"
    )
    assert plan.errors == [
        "line 7 (deployment line 7): the heading names no PR ('### <time> UTC - PR #<n>')",
        "line 9 (deployment PR #9): it has no '- **Commit**:' line",
    ]
    [shipped] = plan.deployments
    assert shipped.metadata == {
        "pr_number": 7,
        "pr_title": "PR #7",
        "commit_hash": None,
        "test_summary": {},
        "constitutional_compliance": False,
    }
    assert [d.field for d in plan.defaults] == [
        "metadata.pr_title",
        "metadata.test_summary",
        "metadata.constitutional_compliance",
    ]


def test_enhancement_gaps_and_problems() -> None:
    plan = _plan(
        "## Future Enhancements (2)\n\n"
        "### Faster (Priority: 2)\n- **Target**: Q1 2027\n"
        "### Never (Priority: 9)\n- **Status**: planned\n"
    )
    [(_, faster)] = plan.enhancements
    assert (faster.status, faster.target_quarter, faster.description) == (
        "planned",
        "2027-Q1",
        None,
    )
    assert [(d.field, d.applied_to) for d in plan.defaults] == [("status", "Faster")]
    assert plan.errors == [
        "line 7 (enhancement 'Never'): priority: Input should be less than or equal to 5"
    ]


def test_parser_errors_are_import_errors() -> None:
    plan = _plan("stray text\n")
    assert plan.errors == ["line 3: text outside any known section: stray text"]
