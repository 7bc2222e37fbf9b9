"""The Dependency Graph section (contract §6): what it draws, how labels are escaped, and
that the parser skips it."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from worktrack.report import mermaid, render
from worktrack.report.graph import MAX_NODES, Graph, Node
from worktrack.report.model import Snapshot, WorkItem
from worktrack.report.parse import parse
from worktrack.services import reports, work_items
from worktrack.services.app import App
from worktrack.services.dependencies import add_dependency

from hostile import INJECTION, INVISIBLE, SHELL, SQL

HOSTILE = [*INVISIBLE, *INJECTION, *SQL, *SHELL]
BREAKERS = ['"', "[", "]", "(", ")", "<", ">", "&", "`", "|", ";", "#", "\n", "-->", "end", "%%"]
# A quoted label may hold plain characters and entity codes (#60;), nothing else.
SAFE_LABEL = re.compile(
    r"(?:[A-Za-z0-9 .,:\-_/()?!+=@'*]|#[0-9]{1,7};|#92;u[0-9a-f]{4}|#92;U[0-9a-f]{8})*"
)
AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NODE = r'  (n[0-9]+)\["(.*)"\]'


def _graph_lines(markdown: str) -> list[str]:
    section = markdown.split("## Dependency Graph\n", 1)[1].split("\n## ", 1)[0]
    return section.strip("\n").split("\n")


@given(st.lists(st.one_of(st.sampled_from(HOSTILE + BREAKERS), st.text()), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_a_label_is_plain_characters_and_entity_codes(pieces: list[str]) -> None:
    label = mermaid.label("".join(pieces))
    assert SAFE_LABEL.fullmatch(label), label
    assert len(label) <= mermaid.MAX_LABEL * 12


@given(st.lists(st.sampled_from(HOSTILE + BREAKERS), min_size=1, max_size=6).map("".join))
@settings(max_examples=100, deadline=None)
def test_the_parser_skips_the_section_whatever_the_titles(title: str) -> None:
    items = [
        WorkItem(
            f"00000000-0000-4000-8000-00000000000{n}", 1, title, "task", "active", None, AT, None
        )
        for n in (1, 2)
    ]
    graph = Graph(
        tuple(Node(i.id, 1, i.title, "active", 2) for i in items), ((items[0].id, items[1].id),), 3
    )
    markdown = render.render(Snapshot((), items, (), (), graph=graph), AT)
    parsed = parse(markdown)
    assert parsed.errors == []
    assert [i.title for i in parsed.work_items] == [title, title]
    lines = _graph_lines(markdown)
    assert lines[:2] == ["```mermaid", "graph TD"]
    assert lines[-2:] == ["```", "_3 more items in dependencies are not drawn._"]
    assert all(line.startswith("  ") for line in lines[2:-2])
    assert "<!--" not in "\n".join(lines)


async def _task(app: App, title: str) -> str:
    return (await work_items.create_work_item(app, item_type="task", title=title)).id


async def test_unmet_dependencies_of_open_items_are_edges(app: App) -> None:
    first, second, third = [await _task(app, t) for t in ('first "one"', "second [2]", "<b>3</b>")]
    done = await _task(app, "done already")
    await add_dependency(app, source_id=first, target_id=second, dependency_type="blocks")
    await add_dependency(app, source_id=third, target_id=second, dependency_type="depends_on")
    await add_dependency(app, source_id=done, target_id=third, dependency_type="blocks")
    finished = await work_items.query_work_item(app, id=done)
    await work_items.update_work_item(app, id=done, version=finished.version, status="completed")
    markdown = (await reports.generate_status_report(app, detail="full")).markdown
    lines = _graph_lines(markdown)
    nodes = dict(re.fullmatch(NODE, line).groups() for line in lines if re.fullmatch(NODE, line))  # type: ignore[union-attr]
    names = {label: node for node, label in nodes.items()}
    assert set(names) == {"first #34;one#34;", "second #91;2#93;", "#60;b#62;3#60;/b#62;"}
    edges = {line.strip() for line in lines if "-->" in line}
    assert edges == {
        f"{names['first #34;one#34;']} --> {names['second #91;2#93;']}",
        f"{names['second #91;2#93;']} --> {names['#60;b#62;3#60;/b#62;']}",
    }
    assert parse(markdown).errors == []


async def test_at_most_100_items_are_drawn_and_the_rest_are_counted(app: App) -> None:
    ids = [await _task(app, f"step {n}") for n in range(MAX_NODES + 6)]
    for before, after in itertools.pairwise(ids):
        await add_dependency(app, source_id=before, target_id=after, dependency_type="blocks")
    lines = _graph_lines((await reports.generate_status_report(app, detail="full")).markdown)
    drawn = {found.group(1) for line in lines if (found := re.fullmatch(NODE, line))}
    # Edges are taken whole until the next would pass the cap: 99 or 100 items.
    assert MAX_NODES - 1 <= len(drawn) <= MAX_NODES
    assert lines[-1] == f"_{len(ids) - len(drawn)} more items in dependencies are not drawn._"
    ends = {end for line in lines if "-->" in line for end in line.split(" --> ")}
    assert {end.strip() for end in ends} <= drawn


async def test_no_dependency_says_so(app: App) -> None:
    await _task(app, "alone")
    markdown = (await reports.generate_status_report(app, detail="full")).markdown
    assert _graph_lines(markdown) == ["_No open item waits for another._"]
