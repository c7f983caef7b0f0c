"""Percentiles and summaries of latencies (pure: unit-tested in tests/unit/bench)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1): the smallest value with at least a fraction
    ``q`` of the values at or below it. Raises ValueError on no values."""
    if not values:
        raise ValueError("no values")
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} not in (0, 1]")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float]:
    """n, p50, p95, p99, mean and max of ``values`` (seconds, or whatever unit they are in)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 0.50), digits),
        "p95": round(percentile(values, 0.95), digits),
        "p99": round(percentile(values, 0.99), digits),
        "mean": round(statistics.fmean(values), digits),
        "max": round(max(values), digits),
    }


def rate(times: Sequence[float], start: float) -> float:
    """Events per second from ``start`` to the last of ``times``."""
    if not times:
        return 0.0
    elapsed = max(times) - start
    return len(times) / elapsed if elapsed > 0 else math.inf


def window_rates(times: Sequence[float], fraction: float = 0.2) -> tuple[float, float]:
    """The completion rate over the first and over the last ``fraction`` of completions (events
    per second between the first and the last completion of each slice): whether a build slows
    down as the count grows."""
    ordered = sorted(times)
    k = max(2, int(len(ordered) * fraction))
    if len(ordered) < 2 * k:
        return 0.0, 0.0

    def one(ts: Sequence[float]) -> float:
        return (len(ts) - 1) / (ts[-1] - ts[0]) if ts[-1] > ts[0] else math.inf

    return one(ordered[:k]), one(ordered[-k:])
