"""The targets of issue #6, and whether a run meets them.

Latency targets are on the handler's p95 (see ``measure.HandlerTiming``) and hold at the
size they were set for: the realistic project (``scale`` 1) or about 100,000 items
(``scale`` 50 and up). Stdio reads are held to twice the no-op call's median, measured in
the same rounds; sizes and cold start hold at every scale.
"""

from __future__ import annotations

from dataclasses import dataclass

LARGE_SCALE = 50


@dataclass(frozen=True)
class Target:
    what: str  # a scenario name, "cold_start", "legacy_import", "tools_list_all", ...
    measure: str  # "handler_p95", "stdio_ratio", "tokens", "seconds"
    limit: float
    backend: str | None = None  # None: both
    sizes: str = "any"  # "realistic" (scale <= 1), "large" (scale >= LARGE_SCALE), "any"

    def applies(self, backend: str, scale: float) -> bool:
        if self.backend not in (None, backend):
            return False
        if self.sizes == "realistic":
            return scale <= 1
        if self.sizes == "large":
            return scale >= LARGE_SCALE
        return True

    @property
    def shown(self) -> str:
        unit = {"handler_p95": " ms", "stdio_ratio": "× no-op", "tokens": " tokens"}
        return f"< {self.limit:g}{unit.get(self.measure, ' s')}"


READS = (
    "vendor_query",
    "hierarchy_leaf",
    "hierarchy_root",
    "list_first_page",
    "list_deep_page",
    "ready_work",
    "blocked_work",
    "report",
)
TARGETS = (
    Target("vendor_query", "handler_p95", 0.5, backend="postgresql", sizes="realistic"),
    Target("hierarchy_leaf", "handler_p95", 3, sizes="realistic"),
    Target("hierarchy_root", "handler_p95", 3, sizes="realistic"),
    Target("report", "handler_p95", 20, sizes="realistic"),
    Target("create", "handler_p95", 3, sizes="realistic"),
    Target("update", "handler_p95", 3, sizes="realistic"),
    Target("hierarchy_leaf", "handler_p95", 10, sizes="large"),
    Target("hierarchy_root", "handler_p95", 10, sizes="large"),
    Target("report", "handler_p95", 200, sizes="large"),
    Target("ready_work", "handler_p95", 10, backend="postgresql", sizes="large"),
    Target("blocked_work", "handler_p95", 10, backend="postgresql", sizes="large"),
    *(Target(name, "stdio_ratio", 2) for name in READS),
    Target("tools_list_all", "tokens", 8000),
    Target("tools_list_work_items", "tokens", 3000),
    Target("cold_start", "seconds", 1.5),
    Target("legacy_import", "seconds", 5, sizes="realistic"),
    # The slowest export and import of the run (worktrack export / import, issue #14).
    Target("export", "seconds", 30, sizes="large"),
    Target("import", "seconds", 30, sizes="large"),
)


def applying(backend: str, scale: float) -> list[Target]:
    return [t for t in TARGETS if t.applies(backend, scale)]
