from typing import Any

from bench.__main__ import figures


def report(**over: Any) -> dict[str, Any]:
    lat = {"p50": 0.2, "p99": 1.5}
    base: dict[str, Any] = {
        "cost_per_server": {"operator": {"cpu_ms_per_server": 40.0}, "kube-apiserver": {"cpu_ms_per_server": 50.0}},
        "replay_cost_per_server": {"kube-apiserver": {"cpu_ms_per_server": 40.0}},
        "throughput_over_replay": 0.6,
        "cpu_bound_throughput_over_replay": 0.55,
        "latency": {
            "open_loop_10_per_s": {"create_to_active_s": lat},
            "idle_single": {"create_to_active_s": {"p50": 0.1}},
        },
        "build": {"throughput_first_20pct_per_s": 4.0, "throughput_last_20pct_per_s": 5.0},
        "scale": {"memory": {"rss_mb": 90.0}, "restart": {"all_adopted_s": 2.0, "writes": 0}},
        "scheduler": [{"hosts": 1000, "p99_ms": 3.0}, {"hosts": 10000, "p99_ms": 30.0}],
    }
    return {**base, **over}


def test_figures_from_a_report() -> None:
    f = figures(report(), servers=100)
    assert f["operator_cpu_ms_per_server"] == 40.0
    assert f["operator_cpu_over_apiserver_cpu"] == 0.8
    assert f["apiserver_cpu_over_replay_apiserver_cpu"] == 1.25
    assert f["throughput_end_over_start"] == 1.25
    assert f["open_loop_10_per_s_p99_s"] == 1.5
    assert f["scheduler_p99_ms_at_10000_hosts"] == 30.0
    # RSS is a target at 10,000 Servers only.
    assert f["operator_rss_mb_at_10000"] is None
    assert figures(report(), servers=10_000)["operator_rss_mb_at_10000"] == 90.0


def test_missing_figures_are_none() -> None:
    f = figures(report(cost_per_server={}, scheduler=[]), servers=100)
    assert f["operator_cpu_ms_per_server"] is None
    assert f["operator_cpu_over_apiserver_cpu"] is None
    assert f["scheduler_p99_ms_at_10000_hosts"] is None
