import math

import pytest

from bench import stats


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert stats.percentile(values, 0.50) == 50
    assert stats.percentile(values, 0.99) == 99
    assert stats.percentile(values, 1.0) == 100
    assert stats.percentile([3.0], 0.99) == 3.0
    assert stats.percentile([2.0, 1.0], 0.5) == 1.0  # unordered input


def test_percentile_refuses_nothing_and_bad_quantiles() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 0.5)
    with pytest.raises(ValueError, match="quantile"):
        stats.percentile([1.0], 0)


def test_summary() -> None:
    assert stats.summary([]) == {"n": 0}
    s = stats.summary([1.0, 2.0, 3.0, 4.0])
    assert s == {"n": 4, "p50": 2.0, "p95": 4.0, "p99": 4.0, "mean": 2.5, "max": 4.0}


def test_rate_and_window_rates() -> None:
    assert stats.rate([1.0, 2.0], start=0.0) == 1.0
    assert stats.rate([], start=0.0) == 0.0
    assert math.isinf(stats.rate([0.0], start=0.0))
    # Ten completions a second at first, then one a second.
    times = [i / 10 for i in range(10)] + [10.0 + i for i in range(10)]
    first, last = stats.window_rates(times, fraction=0.5)
    assert first == pytest.approx(10.0)
    assert last == pytest.approx(1.0)
    assert stats.window_rates([1.0, 2.0]) == (0.0, 0.0)
