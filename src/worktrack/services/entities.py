"""The stored state of any entity a write can touch, by kind and id (sync conflicts show it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import NotFoundError
from worktrack.models.common import entity_json
from worktrack.services import enhancements, work_items
from worktrack.store import configuration, deployments, vendors

Loader = Callable[[AsyncConnection, str], Awaitable[BaseModel | None]]


async def _configuration(conn: AsyncConnection, _id: str) -> BaseModel | None:
    return await configuration.fetch(conn)


_LOADERS: dict[str, Loader] = {
    "work_item": work_items.load,
    "vendor": vendors.fetch,
    "deployment": deployments.fetch,
    "enhancement": enhancements.load,
    "configuration": _configuration,
}


async def current_state(
    conn: AsyncConnection, entity: str, entity_id: str | None
) -> dict[str, Any] | None:
    """The entity as stored now, or None if it does not exist (or is not one we store)."""
    loader = _LOADERS.get(entity)
    if loader is None or entity_id is None:
        return None
    try:
        found = await loader(conn, entity_id)
    except NotFoundError:
        return None
    return None if found is None else entity_json(found)
