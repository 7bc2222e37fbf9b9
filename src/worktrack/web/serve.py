"""``worktrack board``: the board alone, on loopback, without a token (read-only)."""

from __future__ import annotations

import socket
import threading
import webbrowser
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from worktrack import http_server
from worktrack.settings import Settings
from worktrack.startup import open_app, running
from worktrack.web.app import AppSlot, board_app

HOST = "127.0.0.1"


def standalone(settings: Settings) -> ASGIApp:
    """The board at ``/`` with the app opened by its own lifespan; the Host gate refuses
    names other than loopback (a page elsewhere cannot reach it by DNS rebinding)."""
    slot = AppSlot()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with running(await open_app(settings)) as app:
            slot.set(app)
            try:
                yield
            finally:
                slot.set(None)

    inner = Starlette(routes=[Mount("/", app=board_app(slot))], lifespan=lifespan)
    return http_server.HostGuard(inner, http_server.LOOPBACK_NAMES)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def serve(settings: Settings, port: int, *, open_browser: bool) -> None:
    if open_browser:
        # The browser needs the real port: with 0, pick one now rather than after binding.
        port = port or _free_port()
        url = f"http://{HOST}:{port}/"
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    http_server.run(standalone(settings), HOST, port)
