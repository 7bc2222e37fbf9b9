"""The legacy import's writes and its read-back, on the connection of its one transaction.

Vendors, deployments and enhancements are created by the bodies of their services (what
``@writes`` wraps), so each meets exactly the rules a tool call meets; work items by
``work_items.new_item``, the rules of ``create_work_item``, stored in bulk: a chunk of rows
per statement, so a project of 100,000 items is never one statement.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, cast
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack.errors import WorktrackError
from worktrack.legacy.plan import Plan
from worktrack.legacy.reconcile import Shipped, Stored, Written
from worktrack.models.work_items import WorkItem
from worktrack.progress import Progress
from worktrack.services import deployments, enhancements, vendors, work_items
from worktrack.services.app import App
from worktrack.store import bulk, history
from worktrack.store import deployments as deployment_store
from worktrack.store import enhancements as enhancement_store
from worktrack.store import vendors as vendor_store
from worktrack.store import work_items as item_store

T = TypeVar("T")
_READ_BACK_CHUNK = 5000  # ids per IN (...): well below either database's bound-parameter limit


class ImportFailed(Exception):
    """An entry the database refused; ``problem`` names its line."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _body(service: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """The body of a ``@writes`` service (what its decorator wraps), to run on the
    connection the import holds: each entity meets the service's rules, in one transaction."""
    return cast("Callable[..., Awaitable[T]]", inspect.unwrap(service))


async def _step(where: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except WorktrackError as error:
        raise ImportFailed(f"{where}: {error.message}") from None


@dataclass
class _Tally:
    """How many entries of the plan are written, told to ``progress``."""

    progress: Progress
    total: int
    done: int = 0

    async def add(self, count: int, step: str) -> None:
        self.done += count
        await self.progress(self.done, self.total, step)


async def write_all(
    app: App,
    conn: AsyncConnection,
    plan: Plan,
    commits: dict[str, str | None],
    written: Written,
    progress: Progress,
) -> None:
    """Create everything the plan holds, parents first, recording the ids in ``written``."""
    sizes = (plan.vendors, plan.items, plan.deployments, plan.enhancements)
    tally = _Tally(progress, sum(len(entries) for entries in sizes))
    create_vendor = _body(vendors.create_vendor)
    for where, vendor in plan.vendors:
        made_vendor = await _step(where, create_vendor(app, conn, **vendor.model_dump()))
        written.vendors.append(made_vendor.id)
        await tally.add(1, "vendors")
    await _write_items(app, conn, plan, written, tally)
    await _write_deployments(app, conn, plan, commits, written, tally)
    create_enhancement = _body(enhancements.create_enhancement)
    for where, enhancement in plan.enhancements:
        wish = await _step(where, create_enhancement(app, conn, **enhancement.model_dump()))
        written.enhancements.append(wish.id)
        await tally.add(1, "enhancements")


async def _write_items(
    app: App, conn: AsyncConnection, plan: Plan, written: Written, tally: _Tally
) -> None:
    """Every work item through the rules ``create_work_item`` applies, stored in bulk: a
    statement per chunk of rows and one for their history (the plan puts parents first, so
    a parent's path is known before its children's). Each keeps the creation time the file
    gives it."""
    now = app.clock()
    paths: list[str] = []
    for chunk in bulk.chunks(plan.items):
        made: list[work_items.NewItem] = []
        for item in chunk:
            parent = None if item.parent is None else paths[item.parent]
            try:
                new = work_items.new_item(
                    item_id=str(uuid4()),
                    parent_path=parent,
                    now=item.created_at or now,
                    actor=app.actor,
                    **item.entry.model_dump(),
                )
            except WorktrackError as error:
                raise ImportFailed(f"{item.where}: {error.message}") from None
            made.append(new)
            paths.append(new.row["path"])
        await item_store.insert_many(conn, [new.row for new in made])
        await history.append(conn, [new.log for new in made])
        written.items += [new.row["id"] for new in made]
        await tally.add(len(made), "work items")


async def _write_deployments(
    app: App,
    conn: AsyncConnection,
    plan: Plan,
    commits: dict[str, str | None],
    written: Written,
    tally: _Tally,
) -> None:
    by_name = {
        vendor_store.name_key(vendor.name): vendor_id
        for (_, vendor), vendor_id in zip(plan.vendors, written.vendors, strict=True)
    }
    record = _body(deployments.record_deployment)
    for deployment in plan.deployments:
        vendor_ids = [
            await _vendor_id(conn, by_name, name, deployment.where)
            for name in deployment.vendor_names
        ]
        given = deployment.commit
        commit = given.text if given.full else commits[given.text]
        call = record(
            app,
            conn,
            metadata=deployment.metadata,
            deployed_at=deployment.deployed_at,
            commit_hash=commit,
            affected_vendor_ids=vendor_ids,
        )
        shipped = await _step(deployment.where, call)
        written.deployments.append(Shipped(shipped.id, shipped.commit_hash, vendor_ids))
        await tally.add(1, "deployments")


async def _vendor_id(conn: AsyncConnection, imported: dict[str, str], name: str, where: str) -> str:
    """A vendor the file lists, else one already stored, by name in any case."""
    if found := imported.get(vendor_store.name_key(name)):
        return found
    stored = await vendor_store.fetch_by_name(conn, name)
    if stored is None:
        raise ImportFailed(f"{where}: no vendor named {name!r}, in the file or the database")
    return stored.id


async def read_back(conn: AsyncConnection, written: Written) -> Stored:
    wanted = set(written.vendors)
    stored_vendors = {v.id: v for v in await vendor_store.list_all(conn) if v.id in wanted}
    items: dict[str, WorkItem] = {}
    for start in range(0, len(written.items), _READ_BACK_CHUNK):
        chunk = written.items[start : start + _READ_BACK_CHUNK]
        items |= {item.id: item for item in await item_store.fetch_many(conn, chunk)}
    shipped_ids = [deployment.id for deployment in written.deployments]
    shipped = {d.id: d for d in await deployment_store.fetch_many(conn, shipped_ids)}
    wishes = {e.id: e for e in await enhancement_store.fetch_many(conn, written.enhancements)}
    return Stored(stored_vendors, items, shipped, wishes)
