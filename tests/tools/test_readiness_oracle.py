"""ready_work and blocked_work against a brute-force oracle: random cycle-free dependency
webs of 1,000 work items (every type, status and depth, deleted subtrees, claims by me and
by others, live and expired, ties on priority and age), stored directly, then asked for
through the tools on both databases."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastmcp import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from worktrack.server import create_server
from worktrack.tables import CLOSED_STATUSES, ITEM_STATUSES, ITEM_TYPES, dependencies, work_items

from conftest import Backend

ITEMS = 1000
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
HOLDING = ("blocked", "deferred", "cancelled")
LABELS = ("api", "db", "ui")
LIMIT = 200  # the tools' largest page


@dataclass
class Item:
    id: str
    item_type: str
    status: str
    priority: int
    parent: Item | None
    path: str
    created_at: datetime
    deleted: bool
    claimed_by: str | None
    claim_expires_at: datetime | None
    labels: list[str]
    description: str | None
    blocked_reason: str | None
    children: list[Item] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status not in CLOSED_STATUSES and not self.deleted

    def ancestors(self) -> list[Item]:
        found, above = [], self.parent
        while above is not None:
            found.append(above)
            above = above.parent
        return found[::-1]  # root first


@dataclass
class Web:
    items: list[Item]
    waits: list[tuple[Item, Item]]  # (waiter, blocker)
    rows: list[dict[str, Any]]
    links: list[dict[str, Any]]


def build(seed: int, density: float, closed_share: float, nesting: float) -> Web:
    rng = random.Random(seed)
    items: list[Item] = []
    for n in range(ITEMS):
        nestable = [i for i in items[-60:] if i.path.count("/") <= 5]
        parent = rng.choice(nestable) if nestable and rng.random() < nesting else None
        item_id = f"{rng.getrandbits(128):032x}"
        item_id = "-".join(
            (item_id[:8], item_id[8:12], item_id[12:16], item_id[16:20], item_id[20:])
        )
        if rng.random() < closed_share:
            status = rng.choice(CLOSED_STATUSES)
        else:
            status = rng.choice((*ITEM_STATUSES, "active", "active", "active"))
        claimer = rng.choice((None, None, None, "me", "other"))
        item = Item(
            id=item_id,
            item_type=rng.choice(ITEM_TYPES),
            status=status,
            priority=rng.randint(0, 4),
            parent=parent,
            path=f"{parent.path if parent else ''}/{item_id}",
            created_at=NOW - timedelta(minutes=ITEMS - n // 3),  # ties of three
            deleted=(parent is not None and parent.deleted) or rng.random() < 0.03,
            claimed_by=claimer,
            claim_expires_at=NOW + timedelta(minutes=rng.choice((-5, 5))) if claimer else None,
            labels=sorted(rng.sample(LABELS, rng.randint(0, 2))),
            description=rng.choice((None, "short", "long " * 80)),
            blocked_reason=rng.choice((None, "waiting")),
        )
        if parent is not None:
            parent.children.append(item)
        items.append(item)
    pairs: dict[tuple[int, int], str] = {}
    for _ in range(int(ITEMS * density)):
        first = rng.randrange(ITEMS - 1)
        then = min(ITEMS - 1, first + rng.randint(1, 80))
        # The earlier item is always the blocker: no set of links closes a cycle.
        pairs[(first, then)] = rng.choice(("blocks", "depends_on"))
    waits, links = [], []
    for (first, then), kind in pairs.items():
        blocker, waiter = items[first], items[then]
        waits.append((waiter, blocker))
        source, target = (blocker, waiter) if kind == "blocks" else (waiter, blocker)
        links.append(
            {
                "source_id": source.id,
                "target_id": target.id,
                "dependency_type": kind,
                "created_at": NOW,
                "created_by": "seed",
            }
        )
    return Web(items, waits, [_row(i) for i in items], links)


def _row(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "version": 1,
        "item_type": item.item_type,
        "title": f"item {item.id[:8]}",
        "description": item.description,
        "labels": item.labels,
        "status": item.status,
        "priority": item.priority,
        "parent_id": item.parent.id if item.parent else None,
        "path": item.path,
        "depth": item.path.count("/") - 1,
        "metadata": {"blocked_reason": item.blocked_reason} if item.blocked_reason else {},
        "search_text": "",
        "claimed_by": item.claimed_by,
        "claim_expires_at": item.claim_expires_at,
        "deleted_at": NOW if item.deleted else None,
        "created_at": item.created_at,
        "updated_at": item.created_at,
        "created_by": "seed",
        "updated_by": "seed",
    }


class Oracle:
    """The rule of contract §4, item by item, the slow and obvious way."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.blockers: dict[str, list[Item]] = {}
        self.waiters: dict[str, set[str]] = {}
        for waiter, blocker in web.waits:
            if blocker.open:
                self.blockers.setdefault(waiter.id, []).append(blocker)
            if waiter.open:
                self.waiters.setdefault(blocker.id, set()).add(waiter.id)

    def stuck(self, item: Item) -> bool:
        return bool(self.blockers.get(item.id))

    def ready(self, item_type: str | None = None, label: str | None = None) -> list[str]:
        found = [
            i
            for i in self.web.items
            if (i.item_type == item_type if item_type else i.item_type in ("task", "research"))
            and i.status == "active"
            and not i.deleted
            and not any(c.open for c in i.children)
            and not self.stuck(i)
            and not any(self.stuck(a) or a.status in HOLDING for a in i.ancestors())
            and (i.claimed_by in (None, "me") or i.claim_expires_at <= NOW)  # type: ignore[operator]
            and (label is None or label in i.labels)
        ]
        found.sort(key=lambda i: (i.priority, -self.unblocks(i), i.created_at, i.id))
        return [i.id for i in found][:LIMIT]

    def unblocks(self, item: Item) -> int:
        return len(self.waiters.get(item.id, ()))

    def blocked(self) -> list[str]:
        found = [
            i
            for i in self.web.items
            if i.open
            and (
                i.status == "blocked" or self.stuck(i) or any(self.stuck(a) for a in i.ancestors())
            )
        ]
        found.sort(key=lambda i: (i.priority, i.created_at, i.id))
        return [i.id for i in found][:LIMIT]

    def blocked_by(self, item: Item) -> set[tuple[str, str]]:
        own = {b.id for b in self.blockers.get(item.id, [])}
        above = {b.id for a in item.ancestors() for b in self.blockers.get(a.id, [])}
        return {(i, "dependency") for i in own} | {(i, "ancestor") for i in above - own}


async def _store(engine: AsyncEngine, web: Web) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(dependencies))
        await conn.execute(delete(work_items))
        for level in range(6):  # parents first
            rows = [r for r in web.rows if r["depth"] == level]
            if rows:
                await conn.execute(insert(work_items), rows)
        await conn.execute(insert(dependencies), web.links)


async def _check(client: Client[Any], web: Web) -> None:
    oracle = Oracle(web)
    by_id = {i.id: i for i in web.items}

    async def ask(tool: str, **arguments: Any) -> list[dict[str, Any]]:
        result = await client.call_tool(tool, arguments | {"limit": LIMIT})
        items: list[dict[str, Any]] = result.structured_content["items"]  # type: ignore[index]
        return items

    ready = await ask("ready_work")
    assert [i["id"] for i in ready] == oracle.ready()
    for found in ready:
        item = by_id[found["id"]]
        assert found["unblocks"] == oracle.unblocks(item)
        assert found["description"] == (item.description[:300] if item.description else None)
    for item_type in ("project", "session"):
        assert [i["id"] for i in await ask("ready_work", item_type=item_type)] == oracle.ready(
            item_type
        )
    assert [i["id"] for i in await ask("ready_work", label="db")] == oracle.ready(label="db")

    blocked = await ask("blocked_work")
    assert [i["id"] for i in blocked] == oracle.blocked()
    for found in blocked:
        item = by_id[found["id"]]
        assert {(b["id"], b["via"]) for b in found["blocked_by"]} == oracle.blocked_by(item)
        assert found["blocked_reason"] == item.blocked_reason


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32),
    density=st.sampled_from((0.2, 0.6, 1.5)),
    closed_share=st.sampled_from((0.1, 0.5, 0.9)),
    nesting=st.sampled_from((0.3, 0.8)),
)
def test_ready_and_blocked_work_agree_with_the_oracle(
    backend: Backend, seed: int, density: float, closed_share: float, nesting: float
) -> None:
    web = build(seed, density, closed_share, nesting)

    async def run() -> None:
        engine = create_async_engine(backend.url)
        try:
            await _store(engine, web)
        finally:
            await engine.dispose()
        server = create_server(backend.settings(actor="me"), clock=lambda: NOW)
        async with Client(server) as client:
            await _check(client, web)

    asyncio.run(run())
