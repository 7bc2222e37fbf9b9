"""The board's reads (contract §9) on both databases: columns by status, caps, the
drill-down's progress, the graph, the item view, and the layer that answered."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from worktrack.errors import NotFoundError
from worktrack.report import board as model
from worktrack.services import board, claims, work_items
from worktrack.services.app import App
from worktrack.startup import close_app, open_app
from worktrack.web.pages import render

from board_seed import XSS_TITLE, Seeded, seed
from conftest import Clock, Outage


def _column(found: object, status: str) -> list[str]:
    columns = {c.status: c for c in found.columns}  # type: ignore[attr-defined]
    return [card.title for card in columns[status].cards]


async def test_open_items_are_columns_by_status(app: App) -> None:
    seeded = await seed(app)
    found = await board.board(app)
    assert [c.status for c in found.columns] == ["active", "in_progress", "blocked", "deferred"]
    assert "Ship it" in _column(found, "blocked")
    assert {"Draw the graph", XSS_TITLE, "Board launch", "Week 49"} <= set(_column(found, "active"))
    assert "Write the docs" not in str(found.columns)  # completed: not open
    card = next(c for c in found.columns[0].cards if c.id == seeded.tasks["Draw the graph"])
    assert card.labels == ["board", "ui"]
    assert found.data_source == app.db.source


async def test_a_claim_shows_while_it_holds(app: App, clock: Clock) -> None:
    seeded = await seed(app)
    item = await work_items.query_work_item(app, id=seeded.tasks["Draw the graph"])
    await claims.claim_work_item(app, id=item.id, claimed_by="agent-7")
    held = await board.board(app)
    assert [c.claimed_by for c in held.columns[0].cards if c.id == item.id] == ["agent-7"]
    clock.advance(hours=48)
    lapsed = await board.board(app)
    assert [c.claimed_by for c in lapsed.columns[0].cards if c.id == item.id] == [None]


async def test_a_column_holds_its_first_items_and_counts_the_rest(app: App) -> None:
    for n in range(model.COLUMN_CAP + 5):
        await work_items.create_work_item(app, item_type="task", title=f"t{n}", priority=n % 5)
    column = (await board.board(app)).columns[0]
    assert column.total == model.COLUMN_CAP + 5
    assert len(column.cards) == model.COLUMN_CAP
    assert [c.priority for c in column.cards] == sorted(c.priority for c in column.cards)
    html = render("board.html", base="", refresh=5, login=False, board=await board.board(app))
    assert ">5 more<" in html


async def test_the_drill_down_counts_each_level_s_children(app: App) -> None:
    seeded = await seed(app)
    found = await board.board(app)
    assert [(r.title, r.done, r.total) for r in found.roots] == [("Board launch", 0, 1)]
    below = await board.board_children(app, id=seeded.session)
    assert {b.title for b in below.items} == set(seeded.tasks)
    session = await board.board_children(app, id=seeded.project)
    assert [(b.title, b.done, b.total) for b in session.items] == [("Week 49", 1, 4)]


async def test_the_graph_draws_unmet_dependencies(app: App) -> None:
    seeded = await seed(app)
    graph = (await board.board(app)).graph
    t = seeded.tasks
    assert set(graph.edges) == {
        (t["Draw the graph"], t["Ship it"]),
        (t[XSS_TITLE], t["Ship it"]),
    }
    assert {n.title for n in graph.nodes} == {"Draw the graph", "Ship it", XSS_TITLE}
    assert graph.left_out == 0


async def test_the_item_view_has_its_place_fields_and_children(app: App) -> None:
    seeded = await seed(app)
    item = await board.board_item(app, id=seeded.tasks["Draw the graph"])
    assert [a.title for a in item.ancestors] == ["Board launch", "Week 49"]
    assert item.labels == ["board", "ui"]
    assert item.description is not None and "**board**" in item.description
    assert item.acceptance_criteria is not None
    session = await board.board_item(app, id=seeded.session)
    assert session.more_children == 0 and len(session.children) == 4
    with pytest.raises(NotFoundError):
        await board.board_item(app, id="00000000-0000-4000-8000-000000000000")


async def _seeded(outage: Outage) -> Seeded:
    opened = await open_app(outage.settings(direct=True), outage.clock)
    try:
        return await seed(opened)
    finally:
        await close_app(opened)


@pytest.mark.postgres
@pytest.mark.slow
async def test_during_an_outage_the_board_says_which_layer_answered(outage: Outage) -> None:
    seeded = await _seeded(outage)
    await outage.refresh()
    opened = await open_app(outage.settings(), outage.clock)
    try:
        outage.proxy.set_mode("down")
        found = await board.board(opened)
        assert found.data_source == "sqlite_cache"
        assert "Ship it" in _column(found, "blocked")
        html = render("board.html", base="", refresh=5, login=False, board=found)
        assert "the database is unavailable" in html
        item = await board.board_item(opened, id=seeded.tasks["Draw the graph"])
        assert item.data_source == "sqlite_cache"
    finally:
        await close_app(opened)


async def test_the_item_view_renders_notes_as_safe_markdown(app: App, clock: Clock) -> None:
    seeded = await seed(app)
    item = await board.board_item(app, id=seeded.tasks["Draw the graph"])
    note = SimpleNamespace(
        text="Checked **twice** <img src=x onerror=alert(1)>",
        created_at=clock.now,
        created_by="agent\u202e-7",
    )
    html = render(
        "item.html",
        base="",
        refresh=5,
        login=False,
        item=item,
        history=[],
        notes=[note],
        notes_count=1,
    )
    notes = html.split('<section id="notes">', 1)[1].split("</section>", 1)[0]
    assert "<strong>twice</strong>" in notes
    assert "&lt;img src=x onerror=alert(1)&gt;" in notes and "<img" not in notes
    assert "agent\\u202e-7" in notes  # the hidden character is shown, not applied
    assert clock.now.strftime("%Y-%m-%d %H:%M UTC") in notes
