"""The board in a real browser (contract §9): headless Debian Chromium driven by Playwright,
against real ``worktrack board`` and ``worktrack serve --http`` processes."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from worktrack.errors import ValidationError
from worktrack.services import work_items
from worktrack.services.app import App
from worktrack.text import reveal
from worktrack.web.app import cookie_value

from board_seed import DESCRIPTION, XSS_TITLE, Seeded, seed, showcase
from browser import CHROMIUM, Process, environment, seed_database
from hostile import INJECTION, INVISIBLE, SHELL, SQL
from httpserver import ACCEPT, LIST_TOOLS, TOKEN

pytestmark = pytest.mark.slow
SCREENSHOT = Path(__file__).parents[2] / "docs" / "board.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    tmp = tmp_path_factory.mktemp("board")
    return tmp, seed_database(tmp, seed)


@pytest.fixture(scope="module")
def board(folder: tuple[Path, Seeded]) -> Iterator[Process]:
    server = Process(folder[0], ["board", "--port", "0"], environment(folder[0])).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def _titles(page: Page, status: str) -> list[str]:
    links = page.locator(f'section.column[data-status="{status}"] a.title')
    return [text or "" for text in links.evaluate_all("(as) => as.map(a => a.textContent)")]


def test_open_items_appear_in_the_column_of_their_status(board: Process, page: Page) -> None:
    page.goto(board.origin + "/")
    assert "Ship it" in _titles(page, "blocked")
    assert {"Draw the graph", XSS_TITLE, "Week 49"} <= set(_titles(page, "active"))
    assert "Write the docs" not in page.locator("#live").inner_text()
    assert page.locator("#source strong").inner_text() == "sqlite"


def test_the_item_view_shows_description_criteria_notes_and_history(
    board: Process, page: Page
) -> None:
    page.goto(board.origin + "/")
    page.get_by_role("link", name="Draw the graph").first.click()
    page.wait_for_selector("#history")
    assert page.locator("#title").inner_text() == "Draw the graph"
    assert page.locator("#description strong").inner_text() == "board"
    assert "<script>window.__pwned = 2</script>" in page.locator("#description").inner_text()
    assert page.locator("#acceptance code").inner_text() == "columns"
    assert page.locator("#notes h2").inner_text() == "Notes"
    assert page.locator("#notes li.note strong").inner_text() == "done"  # markdown rendered
    assert "<b>not bold</b>" in page.locator("#notes li.note").inner_text()  # HTML shown as text
    assert "alice" in page.locator("#notes .meta").inner_text()
    assert page.locator("#history > ol > li").count() >= 1
    assert page.locator(".crumbs a").all_inner_texts() == ["Board", "Board launch", "Week 49"]
    assert page.evaluate("window.__pwned") is None
    assert DESCRIPTION.splitlines()[0].startswith("Make the")


def test_a_title_made_of_markup_is_shown_as_text_and_never_runs(board: Process, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto(board.origin + "/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img").count() == 0
    assert XSS_TITLE in _titles(page, "active")
    assert page.locator("#graph svg title").all_text_contents().count(XSS_TITLE) == 1
    page.get_by_role("link", name=XSS_TITLE).first.click()
    assert page.locator("#title").text_content() == XSS_TITLE
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_no_request_goes_to_another_host(board: Process, page: Page) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(board.origin + "/")
    page.wait_for_selector("#live[data-refreshed]", state="attached")  # a refresh ran
    page.locator("#drill details summary").first.click()
    page.wait_for_selector("#drill details .children li")
    page.get_by_role("link", name="Draw the graph").first.click()
    page.wait_for_selector("#history")
    assert len(asked) >= 5
    assert {urlsplit(url).netloc for url in asked} == {f"127.0.0.1:{board.port}"}, asked


def test_the_page_refreshes_itself_without_reloading(
    board: Process, page: Page, folder: tuple[Path, Seeded]
) -> None:
    page.goto(board.origin + "/")
    page.evaluate("window.__stayed = 'yes'")

    async def add(app: App) -> None:
        await work_items.create_work_item(app, item_type="task", title="Arrived while watching")

    seed_database(folder[0], add)
    page.wait_for_selector("text=Arrived while watching", timeout=30_000)
    assert page.evaluate("window.__stayed") == "yes"  # the same document: no reload


def _hostile_titles() -> list[str]:
    return [t for t in [*INVISIBLE, *INJECTION, *SQL, *SHELL] if t.strip() and len(t) <= 200]


def test_the_hostile_corpus_is_shown_as_text(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("hostile")

    async def fill(app: App) -> list[str]:
        stored = []
        for title in _hostile_titles():
            try:
                await work_items.create_work_item(app, item_type="task", title=title)
            except ValidationError:
                continue  # refused at the boundary (a control character): never stored
            stored.append(title)
        return stored

    stored = seed_database(tmp, fill)
    assert len(stored) >= 10
    server = Process(tmp, ["board", "--port", "0"], environment(tmp)).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(server.origin + "/")
        shown = _titles(page, "active")
        assert sorted(shown) == sorted(reveal(t) for t in stored)
        assert page.evaluate("window.__pwned") is None
        assert page.locator('main a[href^="javascript"]').count() == 0
        assert {urlsplit(url).netloc for url in asked} == {f"127.0.0.1:{server.port}"}
    finally:
        context.close()
        server.stop()


@pytest.fixture(scope="module")
def http_server(folder: tuple[Path, Seeded]) -> Iterator[Process]:
    env = environment(folder[0], WORKTRACK_HTTP_TOKEN=TOKEN)
    server = Process(folder[0], ["serve", "--http", "--port", "0"], env).start()
    try:
        yield server
    finally:
        server.stop()


def test_serve_http_shows_nothing_without_the_token(
    http_server: Process, page: Page, folder: tuple[Path, Seeded]
) -> None:
    answer = page.goto(http_server.origin + "/board/")
    assert answer is not None and answer.status == 401
    assert page.locator('form input[type="password"]').count() == 1
    for path in ("/board/", "/board/fragment", f"/board/item/{folder[1].tasks['Ship it']}"):
        seen = page.goto(http_server.origin + path)
        assert seen is not None and seen.status == 401
        assert "Ship it" not in page.content()
    page.goto(http_server.origin + "/board/")
    page.fill('input[type="password"]', "not-the-token")
    page.click('button[type="submit"]')
    assert page.locator(".error").inner_text() == "That is not the token."
    assert "Ship it" not in page.content()


def test_the_token_is_asked_once_and_kept_in_a_strict_http_only_cookie(
    http_server: Process, browser: Browser
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(http_server.origin + "/board/")
        page.fill('input[type="password"]', TOKEN)
        page.click('button[type="submit"]')
        page.wait_for_selector("#live")
        assert "Ship it" in _titles(page, "blocked")
        cookies = {c["name"]: c for c in context.cookies()}
        cookie = cookies["worktrack_board"]
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert TOKEN not in cookie["value"]
        assert page.evaluate("document.cookie") == ""  # no script can read it
        page.get_by_role("link", name="Draw the graph").first.click()
        page.wait_for_selector("#history")  # later pages need no second login
        assert page.locator("#title").inner_text() == "Draw the graph"
        missing = page.goto(http_server.origin + "/board/item/" + "0" * 36)
        assert missing is not None and missing.status == 404
        back = page.get_by_role("link", name="Back to the board")
        assert back.get_attribute("href") == "/board/"  # the error page knows its mount
    finally:
        context.close()


def test_serve_http_with_no_auth_on_loopback_needs_no_token(
    folder: tuple[Path, Seeded], page: Page
) -> None:
    server = Process(
        folder[0], ["serve", "--http", "--port", "0", "--no-auth"], environment(folder[0])
    ).start()
    try:
        answer = page.goto(server.origin + "/board")
        assert answer is not None and answer.status == 200
        assert "Ship it" in _titles(page, "blocked")
    finally:
        server.stop()


def test_the_screenshot_is_made_from_the_fixture(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Writes docs/board.png when WORKTRACK_UPDATE_SCREENSHOT=1; otherwise only checks
    that one can be made."""
    tmp = tmp_path_factory.mktemp("showcase")
    seed_database(tmp, showcase)
    server = Process(tmp, ["board", "--port", "0"], environment(tmp)).start()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server.origin + "/")
        page.locator("#drill details summary").first.click()
        page.wait_for_selector("#drill details .children li")
        image = page.screenshot(full_page=True)
        assert image[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("WORKTRACK_UPDATE_SCREENSHOT") == "1":
            SCREENSHOT.write_bytes(image)
    finally:
        context.close()
        server.stop()


def test_the_cookie_opens_the_board_but_not_mcp(http_server: Process) -> None:
    cookie = {"Cookie": f"worktrack_board={cookie_value(SecretStr(TOKEN))}"}
    assert httpx2.get(http_server.origin + "/board/", headers=cookie).status_code == 200
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx2.get(http_server.origin + "/board/", headers=bearer).status_code == 200
    mcp = httpx2.post(http_server.origin + "/mcp", headers={**ACCEPT, **cookie}, json=LIST_TOOLS)
    assert mcp.status_code == 401
    big = httpx2.post(http_server.origin + "/board/login", content=b"token=" + b"x" * 10_000)
    assert big.status_code == 413


def test_board_open_starts_the_browser_on_the_page(folder: tuple[Path, Seeded]) -> None:
    tmp = folder[0]
    opened = tmp / "opened-url"
    recorder = tmp / "browser.py"
    recorder.write_text(f"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = environment(tmp, BROWSER=f"{sys.executable} {recorder} %s")
    server = Process(tmp, ["board", "--port", "0", "--open"], env).start()
    try:
        deadline = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text() == server.origin + "/"
    finally:
        server.stop()


def test_the_board_answers_loopback_names_only(board: Process) -> None:
    assert httpx2.get(board.origin + "/").status_code == 200
    rebound = httpx2.get(board.origin + "/", headers={"Host": "evil.example"})
    assert rebound.status_code == 403 and "Ship it" not in rebound.text
