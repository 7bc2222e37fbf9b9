"""The board's Starlette application: routes, the token cookie, and the page headers.

The same application serves ``worktrack board`` (at ``/``, no token, loopback only) and
``worktrack serve --http`` (at ``/board``, behind the server's token: the login form sets an
HttpOnly, SameSite=Strict cookie holding a digest of the token, never the token itself).
Every read goes through the board's services, so the fallback layers answer for the page
as they do for the tools.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from worktrack.errors import NotFoundError, UnavailableError, ValidationError
from worktrack.services import board as service
from worktrack.services.app import App
from worktrack.services.history import get_history
from worktrack.services.notes import list_notes
from worktrack.web.pages import render

COOKIE = "worktrack_board"
REFRESH_SECONDS = 5
NOTES_SHOWN = 50  # the newest; the view says how many there are in all
# No request leaves the server: scripts, styles, images and fetches from this origin only,
# and no inline script at all (so markup that slipped through could not run).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@dataclass
class AppSlot:
    """Where the running server's ``App`` is, once its lifespan has opened it."""

    app: App | None = None

    def set(self, app: App | None) -> None:
        self.app = app

    def get(self) -> App:
        if self.app is None:
            raise UnavailableError("the server is still starting")
        return self.app


def cookie_value(token: SecretStr) -> str:
    """What the cookie holds: a digest of the token (a leaked cookie is not the token)."""
    key = token.get_secret_value().encode()
    return hmac.new(key, b"worktrack board cookie", hashlib.sha256).hexdigest()


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


class _Board:
    def __init__(self, slot: AppSlot, base: str, token: SecretStr | None) -> None:
        self.slot = slot
        self.base = base
        self.token = token

    def context(self, **values: Any) -> dict[str, Any]:
        return {
            "base": self.base,
            "refresh": REFRESH_SECONDS,
            **values,
        }

    async def page(self, request: Request) -> Response:
        found = await service.board(self.slot.get())
        return _page(render("board.html", **self.context(board=found)))

    async def fragment(self, request: Request) -> Response:
        found = await service.board(self.slot.get())
        return _page(render("_live.html", **self.context(board=found)))

    async def item(self, request: Request) -> Response:
        app = self.slot.get()
        item_id = request.path_params["id"]
        found = await service.board_item(app, id=item_id)
        history = await get_history(app, entity="work_item", id=found.id)
        notes = await list_notes(app, work_item_id=found.id, limit=NOTES_SHOWN)
        return _page(
            render(
                "item.html",
                **self.context(
                    item=found,
                    history=history.changes,
                    notes=notes.items,
                    notes_count=notes.total_count,
                ),
            )
        )

    async def children(self, request: Request) -> Response:
        found = await service.board_children(self.slot.get(), id=request.path_params["id"])
        return _page(
            render("_branches.html", **self.context(branches=found.items, more=found.more))
        )

    async def login_form(self, request: Request) -> Response:
        return _page(render("login.html", **self.context(wrong=False)))

    async def login(self, request: Request) -> Response:
        assert self.token is not None
        form = await request.form(max_files=0, max_fields=2)
        given = str(form.get("token", ""))
        if not hmac.compare_digest(given.encode(), self.token.get_secret_value().encode()):
            return _page(render("login.html", **self.context(wrong=True)), 401)
        answer = RedirectResponse(self.base + "/", status_code=303, headers=SECURITY_HEADERS)
        answer.set_cookie(
            COOKIE,
            cookie_value(self.token),
            httponly=True,
            samesite="strict",
            path=self.base or "/",
        )
        return answer


def _error_page(request: Request, title: str, error: Exception, status: int) -> Response:
    # Under `serve --http` the board is mounted at /board: its links and stylesheet too.
    base = request.scope.get("root_path", "")
    return _page(render("error.html", base=base, title=title, message=str(error)), status)


async def _not_found(request: Request, error: Exception) -> Response:
    return _error_page(request, "Not found", error, 404)


async def _unavailable(request: Request, error: Exception) -> Response:
    return _error_page(request, "Unavailable", error, 503)


def board_app(slot: AppSlot, *, base: str = "", token: SecretStr | None = None) -> ASGIApp:
    """The board at ``base`` (``""`` or ``"/board"``); with ``token``, behind the login."""
    board = _Board(slot, base, token)
    static = StaticFiles(directory=str(resources.files("worktrack.web").joinpath("static")))
    routes = [
        Route("/", board.page),
        Route("/fragment", board.fragment),
        Route("/item/{id}", board.item),
        Route("/children/{id}", board.children),
        Mount("/static", app=static),
    ]
    if token is not None:
        routes += [
            Route("/login", board.login_form, methods=["GET"]),
            Route("/login", board.login, methods=["POST"]),
        ]
    app: ASGIApp = Starlette(
        routes=routes,
        exception_handlers={
            NotFoundError: _not_found,
            ValidationError: _not_found,
            UnavailableError: _unavailable,
        },
    )
    if token is not None:
        app = CookieGate(app, board, token)
    return app


class CookieGate:
    """Everything but the login form and the static files needs the token's cookie (or
    the bearer token itself); without it, the login form answers, with 401."""

    def __init__(self, app: ASGIApp, board: _Board, token: SecretStr) -> None:
        self.app = app
        self.board = board
        self.cookie = cookie_value(token).encode()
        self.bearer = b"Bearer " + token.get_secret_value().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._open(scope) or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = _page(render("login.html", **self.board.context(wrong=False)), 401)
        await response(scope, receive, send)

    def _open(self, scope: Scope) -> bool:
        path = str(scope["path"])[len(self.board.base) :]
        return path == "/login" or path.startswith("/static/")

    def _allowed(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        given = Request(scope).cookies.get(COOKIE, "").encode()
        bearer = bytes(headers.get(b"authorization", b""))
        # Both compared whatever was sent, so timing tells nothing either way.
        by_cookie = hmac.compare_digest(given, self.cookie)
        by_bearer = hmac.compare_digest(bearer, self.bearer)
        return bool(by_cookie or by_bearer)
