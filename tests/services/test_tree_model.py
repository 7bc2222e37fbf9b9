"""Model-based test: random sequences of tree operations against a plain dict model."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from worktrack.errors import ValidationError
from worktrack.migrations import alembic_config
from worktrack.services import work_items
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app


@cache
def _template() -> Path:
    path = Path(tempfile.mkdtemp()) / "template.db"
    command.upgrade(alembic_config(f"sqlite+aiosqlite:///{path}"), "head")
    return path


@dataclass
class Node:
    parent: str | None
    version: int = 1
    deleted_in: int | None = None  # which delete call took it down


class TreeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        shutil.copyfile(_template(), self.dir / "worktrack.db")
        self.runner = asyncio.Runner()
        url = f"sqlite+aiosqlite:///{self.dir / 'worktrack.db'}"
        self.app = self.runner.run(
            open_app(Settings(database_url=url, home=self.dir, repo=self.dir))
        )
        self.model: dict[str, Node] = {}
        self.deletions = 0

    def teardown(self) -> None:
        self.runner.run(close_app(self.app))
        self.runner.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model's view of the tree ---------------------------------------------
    def chain(self, item_id: str) -> list[str]:
        ids = [item_id]
        while (parent := self.model[ids[0]].parent) is not None:
            ids.insert(0, parent)
        return ids

    def below(self, item_id: str) -> list[str]:
        return [i for i in self.model if i != item_id and item_id in self.chain(i)]

    def height(self, item_id: str) -> int:
        depth = len(self.chain(item_id))
        return max([len(self.chain(i)) - depth for i in self.below(item_id)], default=0)

    # -- rules ----------------------------------------------------------------------
    @initialize()
    def root(self) -> None:
        self.create_under(None)

    def create_under(self, parent: str | None) -> None:
        made = self.runner.run(
            work_items.create_work_item(self.app, item_type="task", title="t", parent_id=parent)
        )
        self.model[made.id] = Node(parent)

    @rule(data=st.data())
    def create(self, data: st.DataObject) -> None:
        parent = data.draw(st.sampled_from([None, *list(self.model)]))
        valid = parent is None or (
            self.model[parent].deleted_in is None and len(self.chain(parent)) <= 5
        )
        try:
            self.create_under(parent)
        except ValidationError:
            assert not valid
        else:
            assert valid

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(list(self.model)))
        target = data.draw(st.sampled_from(["", *list(self.model)]))
        node = self.model[item]
        new_parent = target or None
        valid = new_parent is None or (
            self.model[new_parent].deleted_in is None
            and new_parent != item
            and new_parent not in self.below(item)
            and len(self.chain(new_parent)) + 1 + self.height(item) <= 6
        )
        try:
            self.runner.run(
                work_items.update_work_item(
                    self.app, id=item, version=node.version, parent_id=target
                )
            )
        except ValidationError:
            assert not valid
            return
        assert valid
        if new_parent != node.parent:
            for other in [item, *self.below(item)]:
                self.model[other].version += 1
            node.parent = new_parent

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(list(self.model)))
        node = self.model[item]
        self.runner.run(
            work_items.update_work_item(self.app, id=item, version=node.version, deleted=True)
        )
        if node.deleted_in is None:
            self.deletions += 1
            for other in [item, *self.below(item)]:
                if self.model[other].deleted_in is None:
                    self.model[other].deleted_in = self.deletions
                    self.model[other].version += 1

    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(list(self.model)))
        node = self.model[item]
        parent_deleted = node.parent is not None and self.model[node.parent].deleted_in
        try:
            self.runner.run(
                work_items.update_work_item(self.app, id=item, version=node.version, deleted=False)
            )
        except ValidationError:
            assert node.deleted_in is not None and parent_deleted
            return
        if node.deleted_in is not None:
            batch = node.deleted_in
            for other in [item, *self.below(item)]:
                if self.model[other].deleted_in == batch:
                    self.model[other].deleted_in = None
                    self.model[other].version += 1

    @rule(data=st.data())
    def stale_update(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(list(self.model)))
        stale = self.model[item].version - 1
        if stale >= 1:
            try:
                self.runner.run(
                    work_items.update_work_item(self.app, id=item, version=stale, title="stale")
                )
            except Exception as error:
                assert type(error).__name__ == "VersionConflictError"
            else:
                raise AssertionError("a stale version was accepted")

    # -- what must always hold ------------------------------------------------------
    @invariant()
    def database_matches_model(self) -> None:
        page = self.runner.run(
            work_items.list_work_items(self.app, include_deleted=True, detail="full", limit=200)
        )
        stored = {item.id: item for item in page.items}
        assert set(stored) == set(self.model)
        for item_id, node in self.model.items():
            item = stored[item_id]
            chain = self.chain(item_id)
            assert item.parent_id == node.parent
            assert item.path == "/" + "/".join(chain)  # type: ignore[attr-defined]
            assert item.depth == len(chain) - 1 <= 5
            assert item.version == node.version
            assert (item.deleted_at is not None) == (node.deleted_in is not None)  # type: ignore[attr-defined]


TestTree = TreeMachine.TestCase
TestTree.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
