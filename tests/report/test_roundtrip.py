"""parse(render(state)) gives back every entity, whatever its text holds (contract §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from worktrack.report import render
from worktrack.report.model import (
    STANDARD_FORMATS,
    Change,
    Deployment,
    Enhancement,
    Snapshot,
    Vendor,
    WorkItem,
    supported_formats,
)
from worktrack.report.parse import parse

# Pieces that mean something to markdown, to the report's own layout or to a reader.
TRICKY = [
    "\n", "\t", "\\", "\\n", "\\u202e", "<!--", "-->", " <!-- id:x v:1 -->", "<\\!--", "**",
    "**: ", "### ", "- **Status**: ", "(task)", " (", ")", "(Priority: 1)", "[none]", "]", "[",
    ", ", ",", ": ", " v", "`", "  ", "#", "---", "<<<<<<< HEAD", "=======", "\u202e", "\u200b",
    "\u2066", "\ufeff", "\u2028", "\U000e0041", "\ufffd", "😀", "שלום", "é", "\u00a0",
]  # fmt: skip
characters = st.characters(exclude_categories=("Cc", "Cs"))
text = st.lists(st.one_of(characters, st.sampled_from(TRICKY)), min_size=1, max_size=12).map(
    "".join
)
ids = st.uuids().map(str)
versions = st.integers(1, 10**6)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _seconds(at: datetime) -> datetime:
    return at.replace(microsecond=0)


@st.composite
def vendors(draw: st.DrawFn) -> Vendor:
    flags = draw(
        st.fixed_dictionaries({name: st.booleans() for name in STANDARD_FORMATS})
        | st.dictionaries(text, st.booleans(), max_size=3)
    )
    passing, skipped, rest = (draw(st.integers(0, 10**6)) for _ in range(3))
    return Vendor(
        id=draw(ids),
        version=draw(versions),
        name=draw(text),
        status=draw(st.sampled_from(["operational", "broken"])),
        passing=passing,
        total=passing + skipped + rest,
        skipped=skipped,
        formats=supported_formats(flags),
        extractor_version=draw(text),
    )


@st.composite
def work_items(draw: st.DrawFn) -> list[WorkItem]:
    items: list[WorkItem] = []
    for _ in range(draw(st.integers(0, 8))):
        parent = draw(st.sampled_from([None, *(item.id for item in items)]))
        items.append(
            WorkItem(
                id=draw(ids),
                version=draw(versions),
                title=draw(text),
                item_type=draw(st.sampled_from(["project", "session", "task", "research"])),
                status=draw(st.sampled_from(["active", "completed", "blocked"])),
                parent_id=parent,
                created_at=draw(times),
                branch_name=draw(st.none() | text),
                priority=draw(st.integers(0, 4)),
                labels=draw(labels),
                claimed_by=draw(st.none() | text),
                claim_expires_at=draw(st.none() | times),
                blocked_by=draw(st.lists(text, max_size=3).map(tuple)),
                progress=draw(st.none() | progress),
            )
        )
    return draw(st.permutations(items))


labels = st.lists(
    st.from_regex(r"[a-z0-9][a-z0-9._:/-]{0,12}", fullmatch=True), max_size=4, unique=True
).map(lambda found: tuple(sorted(found)))
progress = st.tuples(st.integers(0, 10**6), st.integers(1, 10**6)).map(
    lambda pair: (min(pair), max(pair))
)


deployments = st.builds(
    Deployment,
    id=ids,
    deployed_at=times,
    commit_hash=st.text("0123456789abcdef", min_size=40, max_size=40),
    pr_number=st.none() | st.integers(1, 10**6),
    pr_title=st.none() | text,
    tests=st.dictionaries(text, st.integers(0, 10**6), max_size=4).map(
        lambda summary: tuple(sorted(summary.items()))
    ),
    compliant=st.booleans(),
    vendors=st.lists(text, max_size=4).map(tuple),
)
enhancements = st.builds(
    Enhancement,
    id=ids,
    version=versions,
    title=text,
    priority=st.integers(1, 5),
    status=st.sampled_from(["planned", "approved", "implementing"]),
    target_quarter=st.none() | text,
    description=st.none() | text,
)
changes = st.builds(
    Change,
    kind=st.sampled_from(["completed", "created", "blocked"]),
    at=times,
    id=ids,
    version=versions,
    title=text,
    item_type=st.sampled_from(["project", "task"]),
)
snapshots = st.builds(
    Snapshot,
    vendors=st.lists(vendors(), max_size=4),
    work_items=work_items(),
    deployments=st.lists(deployments, max_size=3),
    enhancements=st.lists(enhancements, max_size=3),
    since=st.none() | times,
    changes=st.lists(changes, max_size=3),
    new_deployments=st.lists(deployments, max_size=2),
)


def _claim(item: WorkItem, at: datetime) -> tuple[str | None, datetime | None]:
    """The claim the report shows: one whose lease has not ended when it is written."""
    ends = item.claim_expires_at
    if not item.claimed_by or (ends is not None and ends <= at):
        return None, None
    return item.claimed_by, _seconds(ends) if ends else None


def _flags(formats: tuple[str, ...]) -> dict[str, bool]:
    return dict.fromkeys(STANDARD_FORMATS, False) | dict.fromkeys(formats, True)


@settings(max_examples=300, deadline=None)
@given(snapshots, times)
def test_parse_gives_back_what_render_wrote(state: Snapshot, generated_at: datetime) -> None:
    parsed = parse(render.render(state, generated_at))
    assert parsed.errors == []
    assert parsed.generated_at == _seconds(generated_at)

    def vendor_fields(v: Any) -> tuple[Any, ...]:
        return (v.id, v.version, v.name, v.status, v.passing, v.total, v.skipped)

    assert [vendor_fields(v) for v in parsed.vendors] == [vendor_fields(v) for v in state.vendors]
    assert [v.formats for v in parsed.vendors] == [_flags(v.formats) for v in state.vendors]
    assert [v.extractor_version for v in parsed.vendors] == [
        v.extractor_version for v in state.vendors
    ]

    ordered = render.tree(state.work_items)
    assert [
        (i.id, i.version, i.title, i.item_type, i.status, i.parent_id, i.depth, i.branch)
        for i in parsed.work_items
    ] == [
        (i.id, i.version, i.title, i.item_type, i.status, i.parent_id, depth, i.branch_name)
        for depth, i in ordered
    ]
    assert [i.created_at for i in parsed.work_items] == [_seconds(i.created_at) for _, i in ordered]
    assert [(i.priority, i.labels, i.blocked_by, i.progress) for i in parsed.work_items] == [
        (i.priority, i.labels, i.blocked_by, i.progress) for _, i in ordered
    ]
    assert [(i.claimed_by, i.claim_expires_at) for i in parsed.work_items] == [
        _claim(i, generated_at) for _, i in ordered
    ]

    assert [
        (d.id, d.deployed_at, d.pr_number, d.title, d.commit, d.tests, d.compliance, d.vendors)
        for d in parsed.deployments
    ] == [
        (
            d.id,
            _seconds(d.deployed_at),
            d.pr_number,
            d.pr_title,
            d.commit_hash[:7],
            dict(d.tests),
            d.compliant,
            d.vendors,
        )
        for d in state.deployments
    ]

    assert [
        (e.id, e.version, e.title, e.priority, e.status, e.target, e.description)
        for e in parsed.enhancements
    ] == [
        (
            e.id,
            e.version,
            e.title,
            e.priority,
            e.status,
            e.target_quarter or None,
            render.first_line(e.description),
        )
        for e in state.enhancements
    ]

    if state.since is None:
        assert parsed.changes_since is None and parsed.changes == []
    else:
        assert parsed.changes_since == state.since
        kinds = ["completed", "created", "blocked"]
        expected = [
            (c.kind, c.id, c.version, f"{c.title} ({c.item_type})")
            for kind in kinds
            for c in state.changes
            if c.kind == kind
        ] + [("deployments", d.id, 1, d.pr_title) for d in state.new_deployments]
        got = [(c.kind, c.id, c.version, c.text.split(" UTC", 1)[1]) for c in parsed.changes]
        assert [(k, i, v) for k, i, v, _ in got] == [(k, i, v) for k, i, v, _ in expected]
        for (_, _, _, shown), (kind, _, _, title) in zip(got, expected, strict=True):
            if kind != "deployments":
                assert shown == f" - {title}"
            elif title is not None:
                assert shown.endswith(f": {title}")


def test_timestamps_in_the_title_keep_their_instant() -> None:
    empty = Snapshot(vendors=[], work_items=[], deployments=[], enhancements=[])
    offset = datetime(2026, 1, 1, 12, tzinfo=UTC).astimezone(timezone(timedelta(hours=5)))
    parsed = parse(render.render(empty, offset))
    assert parsed.generated_at == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert parsed.errors == []
