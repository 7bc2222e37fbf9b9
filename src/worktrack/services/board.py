"""The board's reads (contract §9): each one unit of work, so the fallback layers answer
for the board as they do for the tools."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import NotFoundError
from worktrack.models.board import Board, Branch, ItemView
from worktrack.models.common import Envelope
from worktrack.report import board as model
from worktrack.services.app import App, reads


class Branches(Envelope):
    items: list[Branch]
    more: int


@reads
async def board(app: App, conn: AsyncConnection) -> Board:
    return await model.load(conn, app.clock())


@reads
async def board_item(app: App, conn: AsyncConnection, *, id: str) -> ItemView:
    found = await model.item(conn, id, app.clock())
    if found is None:
        raise NotFoundError("work item", id=id)
    return found


@reads
async def board_children(app: App, conn: AsyncConnection, *, id: str) -> Branches:
    items, more = await model.children(conn, id)
    return Branches(items=items, more=more)
