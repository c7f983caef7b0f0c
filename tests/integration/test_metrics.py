"""The operator's Prometheus endpoint, scraped while it works: the numbers move as Servers are
built and fail to schedule, and every metric the README lists is exposed."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from lightkube import Client
from prometheus_client.parser import text_string_to_metric_families

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
LISTED = (
    "kubenova_servers",
    "kubenova_reconcile_duration_seconds",
    "kubenova_scheduling_duration_seconds",
    "kubenova_scheduling_failures",
    "kubenova_quota_used",
    "kubenova_quota_limit",
    "kubenova_host_vcpus",
    "kubenova_host_vcpus_used",
    "kubenova_host_memory_bytes",
    "kubenova_host_memory_used_bytes",
)


def scrape(op: Operator) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def families(op: Operator) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5) as resp:
        return {f.name for f in text_string_to_metric_families(resp.read().decode())}


def test_every_listed_metric_is_exposed(operator: Operator) -> None:
    assert set(LISTED) <= families(operator)


def test_the_numbers_move_as_servers_build_and_fail(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str, made: Made
) -> None:
    flavor, huge = f"metrics-{uuid.uuid4().hex[:6]}", f"metrics-huge-{uuid.uuid4().hex[:6]}"
    active = ("kubenova_servers", (("backend", "container"), ("status", "ACTIVE")))
    reconciles = ("kubenova_reconcile_duration_seconds_count", (("kind", "Server"),))
    decisions = ("kubenova_scheduling_duration_seconds_count", ())
    before = scrape(operator)
    made.apply(
        [
            k.flavor(flavor, vcpus=1, ram=128),
            k.flavor(huge, vcpus=4096, ram=128),
            # Within quota, so that the huge one fails at scheduling (Nova checks quota first).
            k.manifest("Quota", "default", namespace, cores=-1),
            *(
                k.server(name, namespace, flavor=f, image="nginx:1.27", backend="container")
                for name, f in (("m1", flavor), ("m2", flavor), ("big", huge))
            ),
        ]
    )

    def active_in_cluster() -> set[str]:
        items = k.items(kube, "server")
        return {
            f"{i['metadata']['namespace']}/{i['metadata']['name']}"
            for i in items
            if (i.get("status") or {}).get("status") == "ACTIVE" and i["status"].get("backend") == "container"
        }

    def moved() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        # Other tests' servers may still be going away: compare with the cluster, not a delta.
        ours = {f"{namespace}/m1", f"{namespace}/m2"}
        listed = active_in_cluster()
        now = scrape(operator)
        grew = ours <= listed and now.get(active, 0) == len(listed)
        failed = sum(v for k, v in now.items() if k[0] == "kubenova_scheduling_failures_total") > sum(
            v for k, v in before.items() if k[0] == "kubenova_scheduling_failures_total"
        )
        return now if grew and failed else None

    after = waiting.until(moved, timeout=60, what="ACTIVE servers and a scheduling failure in the metrics")
    assert after[reconciles] > before.get(reconciles, 0)
    assert after[decisions] >= before.get(decisions, 0) + 3
    reasons = {dict(k[1])["reason"] for k in after if k[0] == "kubenova_scheduling_failures_total"}
    assert reasons, "a failure has a reason"
    # Host usage follows within a second, then once per interval (KUBENOVA_USAGE_INTERVAL_SECONDS).
    waiting.until(
        lambda: sum(v for k, v in scrape(operator).items() if k[0] == "kubenova_host_vcpus_used") >= 2,
        what="host usage in the metrics",
    )
    memory = {dict(k[1])["host"]: v for k, v in after.items() if k[0] == "kubenova_host_memory_bytes"}
    assert all(v >= 1024**3 for v in memory.values()), "memory in bytes, not MiB"

    # The namespace's quota usage: three servers accepted (big counts though it failed, as in Nova).
    used = ("kubenova_quota_used", (("namespace", namespace), ("resource", "instances")))
    waiting.until(lambda: scrape(operator).get(used) == 3, what="quota usage in the metrics")
    assert scrape(operator)[("kubenova_quota_limit", (("namespace", namespace), ("resource", "cores")))] == -1

    cluster.kubectl("delete", "server", "m1", "m2", "big", "-n", namespace, "--timeout=60s")
    waiting.until(
        lambda: scrape(operator).get(active, 0) == len(active_in_cluster()), timeout=30, what="gauge follows deletes"
    )
