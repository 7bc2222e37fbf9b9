"""The dependency graph as a mermaid ``graph TD`` block (contract §6).

Stored text never reaches mermaid as syntax. A label is written inside double quotes with
every character that is not a plain letter, digit, space or harmless punctuation written as
a mermaid entity code (``#60;`` for ``<``), so quotes, brackets, backticks, HTML, pipes,
semicolons and ``#`` itself cannot end the label, open markup or start a statement. Newlines
and other whitespace become one space, invisible characters their ``\\uXXXX`` spelling (as
everywhere text is shown), and a label is cut at ``MAX_LABEL`` characters. Node ids are
generated (``n1``, ``n2``...), never taken from stored text.

Every line of the block is indented or a fence, so the status file's parser, which skips the
section, never mistakes a line of it for a heading or a footer.
"""

from __future__ import annotations

import string

from worktrack.report.graph import Graph
from worktrack.text import escape_code, is_invisible

MAX_LABEL = 60
_PLAIN = frozenset(string.ascii_letters + string.digits + " .,:-_/()?!+=@'*")


def _code(char: str) -> str:
    if is_invisible(char):
        return escape_code(char).replace("\\", "#92;")
    return f"#{ord(char)};"


def label(text: str) -> str:
    """``text`` as the inside of a quoted mermaid label."""
    flat = " ".join(text.split())
    if len(flat) > MAX_LABEL:
        flat = flat[: MAX_LABEL - 1] + "…"
    return "".join(c if c in _PLAIN else _code(c) for c in flat)


def node_ids(graph: Graph) -> dict[str, str]:
    return {node.id: f"n{n}" for n, node in enumerate(graph.nodes, start=1)}


def lines(graph: Graph) -> list[str]:
    """The section's lines after its heading: the fenced block, then what was left out."""
    if not graph.nodes:
        return ["_No open item waits for another._"]
    ids = node_ids(graph)
    body = ["```mermaid", "graph TD"]
    body += [f'  {ids[n.id]}["{label(n.title)}"]' for n in graph.nodes]
    body += [f"  {ids[before]} --> {ids[after]}" for before, after in graph.edges]
    body.append("```")
    if graph.left_out:
        body.append(f"_{graph.left_out} more items in dependencies are not drawn._")
    return body
