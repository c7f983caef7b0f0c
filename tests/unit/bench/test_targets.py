from bench import targets


def test_each_target_holds_fails_or_is_not_measured() -> None:
    result = targets.evaluate(
        {"operator_cpu_ms_per_server": 44.0, "restart_writes": 0, "throughput_end_over_start": 1.2}
    )
    assert result["operator_cpu_ms_per_server"] == {"target": "<= 10 ms", "value": 44.0, "holds": False}
    assert result["restart_writes"]["holds"] is True
    assert result["throughput_end_over_start"]["holds"] is True
    assert result["scheduler_p99_ms_at_10000_hosts"] == {"target": "<= 5 ms", "value": None, "holds": None}
    assert set(result) == {t.name for t in targets.TARGETS}
