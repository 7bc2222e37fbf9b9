"""A run's results as markdown tables (printed; pasted into docs/performance.md) and JSON."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

from worktrack.bench.measure import Stats
from worktrack.bench.replica import lines as replica_lines
from worktrack.bench.runner import Results
from worktrack.bench.sizes import LIMIT_TOKENS
from worktrack.bench.targets import Target, applying


def tokens(chars: int) -> int:
    """The usual estimate: four characters a token."""
    return round(chars / 4)


def _cold_start(results: Results) -> float | None:
    if not results.cold_start:
        return None
    return statistics.median(c.answered for c in results.cold_start)


def _cold_start_ratio(results: Results) -> float | None:
    served = _cold_start(results)
    if served is None or not results.cold_start_floor:
        return None
    return served / statistics.median(c.answered for c in results.cold_start_floor)


def _largest_result(results: Results) -> float | None:
    measured = [size.tokens for size in results.result_sizes if size.tokens is not None]
    return max(measured, default=None)


def _rss_growth(results: Results) -> float | None:
    taken = sorted(results.rss_by_calls.items())
    if len(taken) < 2:
        return None
    (_, first), (_, last) = taken[0], taken[-1]
    return (last - first) / first * 100


def measured(results: Results, target: Target) -> float | None:
    """The value ``target`` is about, or None when this run did not measure it."""
    special = {
        "cold_start_ratio": _cold_start_ratio,
        "result_tokens": _largest_result,
        "rss_growth": _rss_growth,
    }.get(target.measure)
    if special is not None:
        return special(results)
    if target.measure == "tokens":
        chars = results.tools_list_chars.get(target.what.removeprefix("tools_list_"))
        return None if chars is None else tokens(chars)
    if target.what == "legacy_import":
        done = results.maintenance
        return None if done is None else done.import_seconds
    if target.what in ("export", "import"):
        moved = results.portability
        taken = [s for what, s in moved.steps if what.startswith(target.what)] if moved else []
        return max(taken, default=None)
    if target.measure == "seconds":
        return _cold_start(results)
    found = next((m for m in results.scenarios if m.name == target.what), None)
    if found is None or found.handler is None:
        return None
    if target.measure == "chars":
        return found.result_chars
    if target.measure == "handler_p95":
        return found.handler.p95
    if found.stdio is None or found.stdio_noop is None:
        return None
    return found.stdio.p50 / found.stdio_noop.p50


def maintenance_lines(results: Results) -> list[str]:
    done = results.maintenance
    if done is None:
        return []
    c = done.import_counts
    imported = _seconds(done.import_seconds, done.failures.get("legacy import"))
    lines = [
        f"legacy import ({c['vendors']:,} vendors, {c['work_items']:,} work items, "
        f"{c['deployments']:,} deployments, {c['prompts']:,} prompt files, one transaction, "
        f"reconciled): {imported}",
    ]
    if done.archive_seconds is None:
        return [
            *lines,
            f"archive of old finished items: {_seconds(None, done.failures.get('archive'))}",
        ]
    lines.append(
        f"archive of {done.archived:,} old finished items: {done.archive_seconds:.2f} s; "
        "service p50 / p95 before → after:"
    )
    for name, before in done.reads_before.items():
        after = done.reads_after[name]
        was, now = f"{before.p50:.2f} / {before.p95:.2f}", f"{after.p50:.2f} / {after.p95:.2f}"
        lines.append(f"  {name}: {was} ms → {now} ms")
    return lines


def _seconds(value: float | None, failure: str | None) -> str:
    return f"{value:.2f} s" if value is not None else f"**failed**: {failure}"


def portability_lines(results: Results) -> list[str]:
    moved = results.portability
    if moved is None:
        return []
    steps = "; ".join(f"{what} {seconds:.2f} s" for what, seconds in moved.steps)
    same = "yes" if moved.identical else "**no**"
    return [f"export / import of {moved.rows:,} rows: {steps}; the exports match: {same}"]


def verdicts(results: Results) -> list[tuple[Target, float | None, bool | None]]:
    found = []
    for target in applying(results.backend, results.options.scale):
        value = measured(results, target)
        found.append((target, value, None if value is None else target.met(value)))
    return found


def _ms(stats: Stats | None, *, full: bool = True) -> str:
    if stats is None:
        return "–"
    shown = f"{stats.p50:.2f} / {stats.p95:.2f}"
    return f"{shown} / {stats.max:.2f}" if full else shown


def _ratio(stdio: Stats | None, noop: Stats | None) -> str:
    return "–" if stdio is None or noop is None else f"{stdio.p50 / noop.p50:.2f}×"


def scenario_table(results: Results) -> list[str]:
    lines = [
        "| scenario | what | service p50 / p95 | handler p50 / p95 / max | in-memory client "
        "p50 / p95 / max | stdio p50 / p95 | stdio ÷ no-op | result tokens |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in results.scenarios:
        if m.error is not None:
            lines.append(f"| {m.name} | {m.what} | **failed**: {m.error} | – | – | – | – | – |")
            continue
        lines.append(
            f"| {m.name} | {m.what} | {_ms(m.service, full=False)} | {_ms(m.handler)} | "
            f"{_ms(m.in_memory)} | {_ms(m.stdio, full=False)} | "
            f"{_ratio(m.stdio, m.stdio_noop)} | {tokens(m.result_chars):,} |"
        )
    return lines


def _shown(target: Target, value: float | None) -> str:
    if value is None:
        return "not measured"
    if target.measure in ("tokens", "result_tokens"):
        return f"{value:,.0f} tokens"
    if target.measure == "chars":
        return f"{value:,.0f} characters"
    if target.measure in ("stdio_ratio", "cold_start_ratio"):
        return f"{value:.2f}×"
    if target.measure == "rss_growth":
        return f"{value:+.1f} %"
    return f"{value:.3f} s" if target.measure == "seconds" else f"{value:.2f} ms"


def target_table(results: Results) -> list[str]:
    lines = ["| issue | target | limit | measured | verdict |", "|---|---|---|---|---|"]
    for target, value, met in verdicts(results):
        label = f"{target.what} {target.measure.replace('_', ' ')}"
        mark = "–" if met is None else ("met" if met else "**missed**")
        lines.append(
            f"| #{target.issue} | {label} | {target.shown} | {_shown(target, value)} | {mark} |"
        )
    return lines


def size_table(results: Results) -> list[str]:
    """Each read tool's default result (issue 15: at most 5,000 tokens at 1,200 items)."""
    if not results.result_sizes:
        return []
    lines = [
        "| read tool (default arguments) | arguments | result tokens | ≤ 5,000 |",
        "|---|---|---|---|",
    ]
    for size in results.result_sizes:
        given = ", ".join(f"{k}={v}" for k, v in size.arguments.items()) or "–"
        if size.tokens is None:
            lines.append(f"| {size.tool} | {given} | not measured: {size.why} | – |")
            continue
        mark = "met" if size.tokens <= LIMIT_TOKENS else "**missed**"
        lines.append(f"| {size.tool} | {given} | {size.tokens:,} | {mark} |")
    return [*lines, ""]


def memory_lines(results: Results) -> list[str]:
    taken = sorted(results.rss_by_calls.items())
    if not taken:
        return []
    shown = "; ".join(f"after {n:,} calls {kib / 1024:.1f} MiB" for n, kib in taken)
    growth = _rss_growth(results)
    change = "" if growth is None else f" ({growth:+.1f} %)"
    peak = results.peak_rss_kib.get("served_after_calls")
    top = "" if peak is None else f"; peak {peak / 1024:.0f} MiB"
    return [f"`worktrack serve` resident memory over repeated reads: {shown}{change}{top}"]


def summary(results: Results) -> list[str]:
    c = results.counts
    shown_machine = ", ".join(f"{k} {v}" for k, v in results.machine.items())
    lines = [
        f"worktrack bench: {results.backend}, scale {results.options.scale:g} "
        f"({c.work_items:,} work items, {c.dependencies:,} dependencies, {c.vendors:,} "
        f"vendors, {c.deployments:,} deployments, {c.enhancements:,} enhancements; seeded "
        f"in {results.seed_seconds:.1f} s); {results.options.iterations} iterations after "
        f"{results.options.warmup} warm-up; times in ms",
        f"machine: {shown_machine}",
        "",
        *scenario_table(results),
        "",
    ]
    if results.cold_start:
        answered = sorted(c.answered for c in results.cold_start)
        connected = statistics.median(c.connected for c in results.cold_start)
        minimal = statistics.median(c.answered for c in results.cold_start_floor)
        lines.append(
            f"cold start of `worktrack serve` (spawn → first tool answer), median of "
            f"{len(answered)}: {statistics.median(answered):.3f} s (connected after "
            f"{connected:.3f} s; slowest {answered[-1]:.3f} s); a minimal FastMCP server: "
            f"{minimal:.3f} s"
        )
    floor = results.database_floor
    if floor:
        trip, commit = floor["round_trip"], floor["insert_commit"]
        lines.append(
            f"database floor (raw driver, no SQLAlchemy), p50 / p95: round trip "
            f"{trip.p50:.3f} / {trip.p95:.3f} ms; one-row INSERT + COMMIT "
            f"{commit.p50:.3f} / {commit.p95:.3f} ms"
        )
    listed = results.tools_list_chars
    lines.append(
        f"tools/list: all tools {tokens(listed.get('all', 0)):,} tokens; work_items toolset "
        f"{tokens(listed.get('work_items', 0)):,} tokens"
    )
    lines += maintenance_lines(results)
    lines += portability_lines(results)
    lines += [f"**failed**: {part}: {why}" for part, why in results.failures.items()]
    lines += replica_lines(results.replica)
    lines += memory_lines(results)
    rss = results.peak_rss_kib
    served = rss.get("served_process")
    lines += [
        f"peak RSS: `worktrack serve` after all the reads "
        f"{'–' if served is None else f'{served / 1024:.0f} MiB'}; the benchmark process "
        f"(in-memory server, seeding) {rss.get('bench_process', 0) / 1024:.0f} MiB",
        "",
        *size_table(results),
        *target_table(results),
    ]
    return lines


def as_json(results: Results) -> dict[str, Any]:
    found = dataclasses.asdict(results)
    found["tokens"] = {
        "tools_list": {k: tokens(v) for k, v in results.tools_list_chars.items()},
        "results": {m.name: tokens(m.result_chars) for m in results.scenarios},
    }
    found["cold_start_median_seconds"] = _cold_start(results)
    found["cold_start_ratio"] = _cold_start_ratio(results)
    found["cold_start_floor_median_seconds"] = (
        statistics.median(c.answered for c in results.cold_start_floor)
        if results.cold_start_floor
        else None
    )
    found["targets"] = [
        {
            "what": target.what,
            "measure": target.measure,
            "limit": target.limit,
            "value": value,
            "met": met,
        }
        for target, value, met in verdicts(results)
    ]
    return found
