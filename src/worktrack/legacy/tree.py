"""Where each legacy work item hangs: by its indentation, or by the title its
``- **Parent**:`` line names. Problems are reported with the entry's line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worktrack.hierarchy import MAX_DEPTH
from worktrack.report.parsed import ParsedWorkItem


@dataclass(frozen=True)
class Tree:
    parents: list[int | None]  # index of each item's parent in the file's list
    order: list[int]  # indexes, parents before their children
    errors: list[str]


def place(items: Sequence[ParsedWorkItem]) -> Tree:
    errors: list[str] = []
    parents = [_parent(items, index, errors) for index in range(len(items))]
    depths = _depths(items, parents, errors)
    order = sorted(range(len(items)), key=lambda index: (depths[index], index))
    return Tree(parents, order, errors)


def _parent(items: Sequence[ParsedWorkItem], index: int, errors: list[str]) -> int | None:
    item = items[index]
    nested, named = item.parent_index, item.parent_title
    if named is None or (nested is not None and items[nested].title == named):
        return nested
    where = f"line {item.line}"
    if nested is not None:
        errors.append(
            f"{where}: its Parent line names {named!r}, "
            f"but it is listed under {items[nested].title!r}"
        )
        return nested
    found = [other for other, candidate in enumerate(items) if candidate.title == named]
    found = [other for other in found if other != index]
    if len(found) == 1:
        return found[0]
    problem = "no work item in the file is" if not found else f"{len(found)} work items are"
    errors.append(f"{where}: its Parent line names {named!r}, but {problem} titled so")
    return None


def _depths(
    items: Sequence[ParsedWorkItem], parents: list[int | None], errors: list[str]
) -> list[int]:
    depths: dict[int, int] = {}
    for start in range(len(items)):
        chain: list[int] = []
        index: int | None = start
        while index is not None and index not in depths:
            if index in chain:  # Parent lines that lead back to an item already walked
                errors.append(f"line {items[start].line}: its Parent lines form a cycle")
                index = None
                break
            chain.append(index)
            index = parents[index]
        depth = -1 if index is None else depths[index]
        for step in reversed(chain):
            depth += 1
            depths[step] = depth
        if depths[start] > MAX_DEPTH:
            errors.append(
                f"line {items[start].line}: nested {depths[start]} levels below a root "
                f"(at most {MAX_DEPTH})"
            )
    return [depths[index] for index in range(len(items))]
