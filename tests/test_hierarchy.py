from __future__ import annotations

import pytest

from worktrack import hierarchy as h

ROOT, MID, LEAF = "r" * 36, "m" * 36, "l" * 36


@pytest.mark.parametrize(
    ("parent", "item", "path", "depth"),
    [
        (None, ROOT, f"/{ROOT}", 0),
        (f"/{ROOT}", MID, f"/{ROOT}/{MID}", 1),
        (f"/{ROOT}/{MID}", LEAF, f"/{ROOT}/{MID}/{LEAF}", 2),
    ],
)
def test_child_path_and_depth(parent: str | None, item: str, path: str, depth: int) -> None:
    assert h.child_path(parent, item) == path
    assert h.depth_of(path) == depth


def test_ids_and_ancestors() -> None:
    path = f"/{ROOT}/{MID}/{LEAF}"
    assert h.ids_in(path) == [ROOT, MID, LEAF]
    assert h.ancestor_ids(path) == [ROOT, MID]
    assert h.ancestor_ids(f"/{ROOT}") == []


@pytest.mark.parametrize(
    ("path", "root", "inside"),
    [
        (f"/{ROOT}/{MID}", f"/{ROOT}", True),
        (f"/{ROOT}", f"/{ROOT}", True),
        (f"/{ROOT}", f"/{ROOT}/{MID}", False),
        (f"/{ROOT}x/{MID}", f"/{ROOT}", False),
        (f"/{MID}", f"/{ROOT}", False),
    ],
)
def test_is_in_subtree(path: str, root: str, inside: bool) -> None:
    assert h.is_in_subtree(path, root) is inside


def test_rebase() -> None:
    assert h.rebase(f"/{ROOT}/{MID}/{LEAF}", f"/{ROOT}/{MID}", f"/{MID}") == f"/{MID}/{LEAF}"
    assert h.rebase(f"/{ROOT}", f"/{ROOT}", f"/{LEAF}/{ROOT}") == f"/{LEAF}/{ROOT}"
    with pytest.raises(ValueError, match="not under"):
        h.rebase(f"/{LEAF}", f"/{ROOT}", f"/{MID}")


@pytest.mark.parametrize("prefix", ["/abc/", "abcdef01", "abcdef0f", "abcdef09-"])
def test_prefix_bounds_hold_exactly_the_prefixed_strings(prefix: str) -> None:
    low, high = h.prefix_bounds(prefix)
    for candidate in [prefix, prefix + "0", prefix + "f", prefix + "-x"]:
        assert low <= candidate < high
    for outside in [prefix[:-1], prefix[:-1] + chr(ord(prefix[-1]) + 1), "~"]:
        assert not (low <= outside < high)


def test_percent_complete_rounds_half_up_and_is_none_with_nothing_to_do() -> None:
    # One rule for the report, query_work_item and the board (round() would give 12 here).
    assert h.percent_complete(1, 8) == 13
    assert h.percent_complete(2, 3) == 67
    assert h.percent_complete(0, 0) is None
