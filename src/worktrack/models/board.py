"""What the board shows (contract §9): bounded views of the open work, read in one unit.

Plain result models, not tool results: the web layer renders them. Text is stored text;
the templates escape it (and reveal invisible characters) on the way out.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from worktrack.models.common import Envelope


class Card(BaseModel):
    id: str
    title: str
    item_type: str
    status: str
    priority: int
    labels: list[str]
    claimed_by: str | None  # only while the claim holds


class Column(BaseModel):
    status: str
    total: int  # live items with this status; ``cards`` holds the first of them
    cards: list[Card]


class Branch(BaseModel):
    """An item in the drill-down, with the progress of its direct children."""

    id: str
    title: str
    item_type: str
    status: str
    priority: int
    done: int  # children completed or cancelled
    total: int  # live children


class GraphNode(BaseModel):
    id: str
    title: str
    status: str
    priority: int


class GraphView(BaseModel):
    nodes: list[GraphNode]
    edges: list[tuple[str, str]]  # (must finish first, waits)
    left_out: int


class VendorRow(BaseModel):
    id: str
    name: str
    status: str
    passing: int
    total: int
    skipped: int
    formats: list[str]


class DeploymentRow(BaseModel):
    id: str
    deployed_at: datetime
    commit_hash: str
    pr_number: int | None
    pr_title: str | None
    compliant: bool


class EnhancementRow(BaseModel):
    id: str
    title: str
    priority: int
    status: str
    target_quarter: str | None


class Board(Envelope):
    read_at: datetime
    columns: list[Column]
    roots: list[Branch]
    more_roots: int  # open top-level items not listed
    graph: GraphView
    vendors: list[VendorRow]  # broken first, then by name; the first of them
    vendor_counts: dict[str, int]  # every vendor, by status
    deployments: list[DeploymentRow]
    enhancements: list[EnhancementRow]
    more_enhancements: int


class ItemView(Envelope):
    """One work item's page: its own fields, where it sits, and its children."""

    read_at: datetime
    id: str
    version: int
    title: str
    item_type: str
    status: str
    priority: int
    labels: list[str]
    description: str | None
    acceptance_criteria: str | None
    claimed_by: str | None
    claim_expires_at: datetime | None
    branch_name: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    deleted: bool
    ancestors: list[Branch]  # root first
    children: list[Branch]
    more_children: int
