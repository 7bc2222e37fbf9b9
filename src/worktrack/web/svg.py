"""The dependency graph laid out for an SVG picture, on the server (no script draws it).

Layers by longest path from the items nothing waits on (a dependency points down), nodes in
a layer in the order the read model found them. Only numbers are computed here; the
template writes the SVG, escaping every title.
"""

from __future__ import annotations

from dataclasses import dataclass

from worktrack.models.board import GraphView

NODE_WIDTH = 180
NODE_HEIGHT = 40
GAP_X = 24
GAP_Y = 48
MARGIN = 12
SHORT_TITLE = 24


@dataclass(frozen=True)
class Box:
    id: str
    title: str  # the whole title (the tooltip)
    short: str  # what fits in the box
    status: str
    x: int
    y: int


@dataclass(frozen=True)
class Line:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    boxes: list[Box]
    lines: list[Line]


def _layers(graph: GraphView) -> dict[str, int]:
    layer = {node.id: 0 for node in graph.nodes}
    # Longest path by relaxation: at most one pass per node (the graph has no cycle; the
    # bound keeps a damaged one from looping).
    for _ in range(len(layer)):
        changed = False
        for before, after in graph.edges:
            if before in layer and after in layer and layer[after] < layer[before] + 1:
                layer[after] = layer[before] + 1
                changed = True
        if not changed:
            break
    return layer


def _short(title: str) -> str:
    flat = " ".join(title.split())
    return flat if len(flat) <= SHORT_TITLE else flat[: SHORT_TITLE - 1] + "…"


def layout(graph: GraphView) -> Picture:
    layer = _layers(graph)
    rows: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for node in graph.nodes:
        column = rows.get(layer[node.id], 0)
        rows[layer[node.id]] = column + 1
        x = MARGIN + column * (NODE_WIDTH + GAP_X)
        y = MARGIN + layer[node.id] * (NODE_HEIGHT + GAP_Y)
        boxes[node.id] = Box(node.id, node.title, _short(node.title), node.status, x, y)
    lines = [
        Line(
            boxes[b].x + NODE_WIDTH // 2,
            boxes[b].y + NODE_HEIGHT,
            boxes[a].x + NODE_WIDTH // 2,
            boxes[a].y - 4,  # the arrow head ends just above the box
        )
        for b, a in graph.edges
        if b in boxes and a in boxes
    ]
    widest = max(rows.values(), default=0)
    width = 2 * MARGIN + widest * NODE_WIDTH + max(0, widest - 1) * GAP_X
    height = 2 * MARGIN + len(rows) * NODE_HEIGHT + max(0, len(rows) - 1) * GAP_Y
    return Picture(width, height, list(boxes.values()), lines)
