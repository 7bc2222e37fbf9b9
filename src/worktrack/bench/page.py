"""The board's page time: one GET through the board's ASGI app, in memory (no socket),
so the figure is the read, the rendering and Starlette, as a browser's request costs them."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message

from worktrack.services.app import App
from worktrack.web.app import AppSlot, board_app


def board_of(app: App) -> ASGIApp:
    return board_app(AppSlot(app))


async def get(asgi: ASGIApp, path: str) -> tuple[int, bytes]:
    """The status and body of ``GET path``."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8766),
    }
    status = 0
    body = bytearray()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await asgi(scope, receive, send)
    return status, bytes(body)
