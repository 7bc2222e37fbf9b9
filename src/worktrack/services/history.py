"""The change history of any versioned entity, newest first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.models.history import Change, History
from worktrack.services import configuration, enhancements, vendors
from worktrack.services.app import App, reads
from worktrack.services.work_items import load_any as load_work_item
from worktrack.store import history as store

Resolver = Callable[[AsyncConnection, str], Awaitable[str]]


async def _work_item_id(conn: AsyncConnection, ref: str) -> str:
    return (await load_work_item(conn, ref)).id


# entity -> how its ``id`` argument is turned into the stored entity id
RESOLVERS: dict[str, Resolver] = {
    "work_item": _work_item_id,
    "vendor": vendors.history_id,
    "configuration": configuration.history_id,
    "enhancement": enhancements.history_id,
}


@reads
async def get_history(
    app: App, conn: AsyncConnection, *, entity: str, id: str, limit: int = 50
) -> History:
    entity_id = await RESOLVERS[entity](conn, id)
    rows = await store.for_entity(conn, entity, entity_id, limit)
    return History(changes=[Change.model_validate(row) for row in rows])
