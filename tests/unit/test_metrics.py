"""The metrics' hooks: gauges follow objects, the decorators time, failures are counted by reason."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from kubenova import metrics
from kubenova.scheduling.scheduler import NoValidHost


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_server_moves_between_statuses_and_is_forgotten() -> None:
    before = value("kubenova_servers", status="ACTIVE", backend="container")
    metrics.observe_server("ns/a", "BUILD", "container")
    metrics.observe_server("ns/a", "ACTIVE", "container")
    metrics.observe_server("ns/a", "ACTIVE", "container")  # a resync changes nothing
    assert value("kubenova_servers", status="ACTIVE", backend="container") == before + 1
    metrics.forget_server("ns/a")
    assert value("kubenova_servers", status="ACTIVE", backend="container") == before


def test_host_memory_is_exposed_in_bytes() -> None:
    metrics.observe_host("h1", {"vcpus": 8, "vcpusUsed": 2, "memoryMb": 1024, "memoryMbUsed": 512})
    assert value("kubenova_host_memory_bytes", host="h1") == 1024 * 1024 * 1024
    assert value("kubenova_host_vcpus_used", host="h1") == 2
    metrics.forget_host("h1")
    assert REGISTRY.get_sample_value("kubenova_host_vcpus", {"host": "h1"}) is None


def test_quota_ram_in_bytes_and_unlimited_stays_minus_one() -> None:
    metrics.set_quota("ns", "ram", used=512, limit=-1)
    metrics.set_quota("ns", "cores", used=2, limit=20)
    assert value("kubenova_quota_used", namespace="ns", resource="ram") == 512 * 1024 * 1024
    assert value("kubenova_quota_limit", namespace="ns", resource="ram") == -1
    metrics.forget_quota("ns")
    assert REGISTRY.get_sample_value("kubenova_quota_used", {"namespace": "ns", "resource": "cores"}) is None


def test_reconcile_time_is_recorded_per_kind() -> None:
    @metrics.timed("Test")
    async def reconcile() -> str:
        return "done"

    before = value("kubenova_reconcile_duration_seconds_count", kind="Test")
    assert asyncio.run(reconcile()) == "done"
    assert value("kubenova_reconcile_duration_seconds_count", kind="Test") == before + 1


def test_failures_are_counted_by_the_filter_that_removed_the_last_hosts() -> None:
    before = value("kubenova_scheduling_failures_total", reason="RamFilter")
    metrics.no_valid_host(NoValidHost(4, [("ComputeFilter", 1), ("RamFilter", 3)]))
    assert value("kubenova_scheduling_failures_total", reason="RamFilter") == before + 1
    assert metrics.failure_reason(NoValidHost(0, [])) == "NoHosts"
