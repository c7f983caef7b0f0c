"""Issue 13's targets (section 2), each evaluated against a figure of the run: ``holds`` true or
false, or null when the run did not measure it (a size not run, a phase skipped)."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from typing import Any

_OPS: Mapping[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    op: str
    limit: float
    unit: str = ""

    def evaluate(self, value: float | None) -> dict[str, Any]:
        holds = None if value is None else _OPS[self.op](value, self.limit)
        shown = None if value is None else round(value, 4)
        return {"target": f"{self.op} {self.limit:g}{self.unit}", "value": shown, "holds": holds}


TARGETS = (
    Target("operator_cpu_ms_per_server", "<=", 10, " ms"),
    Target("operator_cpu_over_apiserver_cpu", "<=", 0.25),
    Target("apiserver_cpu_over_replay_apiserver_cpu", "<=", 2),
    Target("throughput_over_replay_ceiling", ">=", 0.8),
    Target("throughput_over_replay_ceiling_cpu_bound", ">=", 0.8),
    Target("open_loop_10_per_s_p50_s", "<=", 0.5, " s"),
    Target("open_loop_10_per_s_p99_s", "<=", 2, " s"),
    Target("idle_single_create_to_active_s", "<=", 0.3, " s"),
    Target("throughput_end_over_start", ">=", 1),
    Target("operator_rss_mb_at_10000", "<=", 250, " MB"),
    Target("restart_all_adopted_s", "<=", 60, " s"),
    Target("restart_writes", "==", 0),
    Target("scheduler_p99_ms_at_10000_hosts", "<=", 5, " ms"),
)


def evaluate(figures: Mapping[str, float | None]) -> dict[str, dict[str, Any]]:
    """Every target, with its figure from ``figures`` (missing: not measured)."""
    return {t.name: t.evaluate(figures.get(t.name)) for t in TARGETS}
