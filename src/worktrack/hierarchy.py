"""Materialized paths: ``/<root-id>/<parent-id>/<own-id>``; pure functions, no I/O."""

from __future__ import annotations

import math

MAX_DEPTH = 5


def percent_complete(completed: int, to_do: int) -> int | None:
    """Completed of the work not cancelled, in percent rounded half up; None when there is
    nothing to do. The report, query_work_item and the board all show this number."""
    return math.floor(completed * 100 / to_do + 0.5) if to_do else None


def child_path(parent_path: str | None, item_id: str) -> str:
    return f"{parent_path or ''}/{item_id}"


def depth_of(path: str) -> int:
    return path.count("/") - 1


def ids_in(path: str) -> list[str]:
    """Every id on the path, root first, the item itself last."""
    return path.strip("/").split("/")


def ancestor_ids(path: str) -> list[str]:
    return ids_in(path)[:-1]


def subtree_prefix(path: str) -> str:
    """The prefix every descendant's path starts with."""
    return path + "/"


def is_in_subtree(path: str, root_path: str) -> bool:
    """True when ``path`` is ``root_path`` itself or lies below it."""
    return path == root_path or path.startswith(subtree_prefix(root_path))


def rebase(path: str, old_root_path: str, new_root_path: str) -> str:
    """Move ``path`` (inside the subtree at ``old_root_path``) to ``new_root_path``."""
    if not is_in_subtree(path, old_root_path):
        raise ValueError(f"{path!r} is not under {old_root_path!r}")
    return new_root_path + path[len(old_root_path) :]


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """Half-open string range ``[low, high)`` holding exactly the strings starting with
    ``prefix`` (for byte-ordered collations), so a plain index serves prefix lookups."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
