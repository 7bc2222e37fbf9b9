"""Every table is exported or local, never both, never neither; the export's order lets an
import load lines as they come."""

from __future__ import annotations

from worktrack.portable.kinds import BY_NAME, EXPORTED, LOCAL_ONLY
from worktrack.tables import metadata


def test_every_table_is_exported_or_local_exactly_once() -> None:
    exported = [kind.table.name for kind in EXPORTED]
    assert len(exported) == len(set(exported)), "a table exported under two kinds"
    assert not set(exported) & set(LOCAL_ONLY), "a table both exported and local"
    undecided = set(metadata.tables) - set(exported) - set(LOCAL_ONLY)
    assert not undecided, f"export or keep local (portable/kinds.py): {sorted(undecided)}"
    assert set(exported) | set(LOCAL_ONLY) == set(metadata.tables)
    assert len(BY_NAME) == len(EXPORTED), "two kinds with one name"
    assert all(reason for reason in LOCAL_ONLY.values())


def test_each_kind_is_ordered_by_a_unique_key() -> None:
    for kind in EXPORTED:
        ordered = {column.name for column in kind.ordering}
        unique = [{c.name for c in kind.table.primary_key}] + [
            {c.name for c in index.columns} for index in kind.table.indexes if index.unique
        ]
        assert ordered in unique, f"{kind.name} lines would not have one order"


def test_a_row_never_comes_before_what_it_refers_to() -> None:
    place = {kind.table.name: n for n, kind in enumerate(EXPORTED)}
    for kind in EXPORTED:
        for key in kind.table.foreign_keys:
            referred = key.column.table.name
            if referred == kind.table.name:  # a tree: parents first, by path
                assert [c.name for c in kind.ordering] == ["path"], kind.name
            else:
                assert place[referred] < place[kind.table.name], (kind.name, referred)
