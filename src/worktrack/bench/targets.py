"""The targets of issues #6 and #15, and whether a run meets them.

Latency targets are on the handler's p95 (see ``measure.HandlerTiming``) and hold at the
size they were set for: the realistic project (``scale`` 1) or about 100,000 items
(``scale`` 50 and up). Stdio reads are held to twice the no-op call's median, measured in
the same rounds; sizes and cold start hold at every scale. Where #15 tightened a target
of #6 (the vendor lookup, the stdio ratios), only #15's is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

LARGE_SCALE = 50


@dataclass(frozen=True)
class Target:
    what: str  # a scenario name, "cold_start", "legacy_import", "tools_list_all", ...
    # "handler_p95", "stdio_ratio", "tokens", "seconds", "chars", "result_tokens",
    # "cold_start_ratio", "rss_growth"
    measure: str
    limit: float
    backend: str | None = None  # None: both
    sizes: str = "any"  # "realistic" (scale <= 1), "large" (scale >= LARGE_SCALE), "any"
    issue: int = 6
    inclusive: bool = False  # the limit itself meets the target (≤, not <)

    def applies(self, backend: str, scale: float) -> bool:
        if self.backend not in (None, backend):
            return False
        if self.sizes == "realistic":
            return scale <= 1
        if self.sizes == "large":
            return scale >= LARGE_SCALE
        return True

    def met(self, value: float) -> bool:
        return value <= self.limit if self.inclusive else value < self.limit

    @property
    def shown(self) -> str:
        unit = {
            "handler_p95": " ms",
            "stdio_ratio": "× no-op",
            "tokens": " tokens",
            "result_tokens": " tokens",
            "chars": " characters",
            "cold_start_ratio": "× a minimal FastMCP server",
            "rss_growth": " % growth",
        }
        sign = "≤" if self.inclusive else "<"
        return f"{sign} {self.limit:g}{unit.get(self.measure, ' s')}"


READS = (
    "vendor_query",
    "hierarchy_leaf",
    "hierarchy_root",
    "list_first_page",
    "list_deep_page",
    "ready_work",
    "blocked_work",
    "report",
    "report_summary",
)
ISSUE_6 = (
    Target("hierarchy_leaf", "handler_p95", 3, sizes="realistic"),
    Target("hierarchy_root", "handler_p95", 3, sizes="realistic"),
    Target("report", "handler_p95", 20, sizes="realistic"),
    Target("create", "handler_p95", 3, sizes="realistic"),
    Target("update", "handler_p95", 3, sizes="realistic"),
    Target("report", "handler_p95", 200, sizes="large"),
    Target("ready_work", "handler_p95", 10, backend="postgresql", sizes="large", issue=11),
    Target("blocked_work", "handler_p95", 10, backend="postgresql", sizes="large", issue=11),
    Target("tools_list_work_items", "tokens", 3000),
    Target("cold_start", "seconds", 1.5),
    Target("legacy_import", "seconds", 5, sizes="realistic"),
    # The slowest export and import of the run (worktrack export / import, issue #14).
    Target("export", "seconds", 30, sizes="large"),
    Target("import", "seconds", 30, sizes="large"),
)
ISSUE_15 = (
    # The seed's three: vendor < 1 ms, hierarchy < 10 ms, report < 100 ms.
    Target("vendor_query", "handler_p95", 1, issue=15),
    Target("hierarchy_leaf", "handler_p95", 10, issue=15),
    Target("hierarchy_root", "handler_p95", 10, issue=15),
    Target("report", "handler_p95", 100, backend="postgresql", sizes="large", issue=15),
    Target("list_first_page", "handler_p95", 10, sizes="large", issue=15),
    Target("report_summary", "chars", 8000, issue=15, inclusive=True),
    Target("read_results", "result_tokens", 5000, sizes="realistic", issue=15, inclusive=True),
    *(
        Target(name, "stdio_ratio", 2, sizes="realistic", issue=15, inclusive=True)
        for name in READS
    ),
    Target("cold_start", "cold_start_ratio", 1.3, issue=15, inclusive=True),
    Target("tools_list_all", "tokens", 8000, issue=15),
    # Resident memory after all the calls against after a tenth of them.
    Target("served_rss", "rss_growth", 5, issue=15),
)
TARGETS = (*ISSUE_15, *ISSUE_6)


def applying(backend: str, scale: float) -> list[Target]:
    return [t for t in TARGETS if t.applies(backend, scale)]
