"""Placement on the real control plane: many concurrent creates never oversubscribe a host, a
disabled host takes no new servers, a forced-down host is down, and Aggregates and
ServerGroups report their status (and the zone reaches the Nodes)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta

from hack.devcluster.cluster import Cluster
from kubenova import labels
from kubenova.kube import resources
from tests import waiting

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"
RESERVED_MB = 512  # the operator's default reserved_host_memory_mb


def get(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    where = ["-n", namespace] if namespace else []
    result: dict[str, Any] = json.loads(cluster.kubectl("get", kind, name, *where, "-o", "json").stdout)
    return result


def servers(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(cluster.kubectl("get", "servers", "-n", namespace, "-o", "json").stdout)[
        "items"
    ]
    return items


def pool(cluster: Cluster, name: str, count: int, first: int, *, zone: str | None = None) -> list[str]:
    """``count`` small hosts (2 cores, 4 GiB) in an Aggregate of their own, which only flavors
    asking for ``pool=<name>`` use (AggregateInstanceExtraSpecsFilter)."""
    hosts = cluster.add_nodes(count, prefix=name, first=first, cpu=2, memory_gib=4, zones=())
    spec: dict[str, Any] = {"hosts": hosts, "metadata": {"pool": name}}
    if zone:
        spec["availabilityZone"] = zone
    cluster.apply(
        [
            {"apiVersion": API, "kind": "Aggregate", "metadata": {"name": name}, "spec": spec},
            {
                "apiVersion": API,
                "kind": "Flavor",
                "metadata": {"name": f"{name}.small"},
                "spec": {"vcpus": 1, "ram": 1024, "extraSpecs": {"aggregate_instance_extra_specs:pool": name}},
            },
        ]
    )
    return hosts


def unpool(cluster: Cluster, name: str, hosts: list[str]) -> None:
    cluster.kubectl("delete", "aggregate", name, "--ignore-not-found")
    cluster.kubectl("delete", "node", *hosts, "--ignore-not-found")


def unlimited(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        [
            {
                "apiVersion": API,
                "kind": "Quota",
                "metadata": {"name": "default", "namespace": namespace},
                "spec": {"instances": -1, "cores": -1, "ram": -1},
            }
        ]
    )


async def create_all(cluster: Cluster, namespace: str, flavor: str, count: int) -> None:
    client = AsyncClient(config=KubeConfig.from_file(str(cluster.kubeconfig)), field_manager="it")
    try:
        await asyncio.gather(
            *(
                client.create(
                    resources.Server(
                        metadata=ObjectMeta(name=f"s{i:03d}", namespace=namespace),
                        spec={"flavor": flavor, "image": "nginx:1.27", "backend": "container"},
                    )
                )
                for i in range(count)
            )
        )
    finally:
        await client.close()


@pytest.mark.usefixtures("operator")
def test_two_hundred_concurrent_creates_on_twenty_hosts_never_oversubscribe(cluster: Cluster, namespace: str) -> None:
    hosts = pool(cluster, "p200", 20, first=200)
    try:
        unlimited(cluster, namespace)
        asyncio.run(create_all(cluster, namespace, "p200.small", 200))

        def settled() -> list[dict[str, Any]] | None:
            found = servers(cluster, namespace)
            done = len(found) == 200 and all(
                (s.get("status") or {}).get("status") in ("ACTIVE", "ERROR") and not s["status"].get("taskState")
                for s in found
            )
            return found if done else None

        found = waiting.until(settled, timeout=120, what="200 servers settled")
        by_status = Counter(s["status"]["status"] for s in found)
        # Each host: (4096 - 512 reserved) // 1024 = 3 by RAM (8 by cores at 4.0): 60 in all.
        fits = 20 * ((4096 - RESERVED_MB) // 1024)
        assert by_status == Counter({"ACTIVE": fits, "ERROR": 200 - fits})
        for s in found:
            if s["status"]["status"] == "ERROR":
                assert s["status"]["fault"]["message"].startswith("No valid host was found.")
                assert "RamFilter removed" in s["status"]["fault"]["message"]
        claimed = Counter(s["status"]["host"] for s in found if s["status"]["status"] == "ACTIVE")
        assert set(claimed) <= set(hosts)
        assert max(claimed.values()) * 1024 <= 4096 - RESERVED_MB  # the sum of flavors per host fits

        def hosts_report_it() -> bool:
            for h in hosts:
                st = get(cluster, "host", h)["status"]
                # As os-hypervisors: memory_mb_used counts the reserved memory too.
                used = claimed.get(h, 0) * 1024 + RESERVED_MB
                if st.get("memoryMbUsed") != used or used > st["memoryMb"] or st["runningVms"] != claimed.get(h, 0):
                    return False
            return True

        waiting.until(hosts_report_it, what="Host status shows the same usage, within capacity")
    finally:
        cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false")
        waiting.until(lambda: not servers(cluster, namespace), timeout=60, what="servers deleted")
        unpool(cluster, "p200", hosts)


@pytest.mark.usefixtures("operator")
def test_a_disabled_host_takes_no_new_server_and_a_forced_down_one_is_down(cluster: Cluster, namespace: str) -> None:
    (host,) = pool(cluster, "solo", 1, first=300, zone="az-solo")
    try:
        unlimited(cluster, namespace)

        def server(name: str) -> dict[str, Any]:
            return {
                "apiVersion": API,
                "kind": "Server",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"flavor": "solo.small", "image": "nginx:1.27"},
            }

        def status(name: str, wanted: str) -> dict[str, Any]:
            def reached() -> dict[str, Any] | None:
                st: dict[str, Any] = get(cluster, "server", name, namespace).get("status") or {}
                return st if st.get("status") == wanted else None

            return waiting.until(reached, what=f"{name} {wanted}")

        cluster.apply([server("first")])
        assert status("first", "ACTIVE")["host"] == host

        cluster.kubectl(
            "patch", "host", host, "--type=merge", "-p", '{"spec":{"enabled":false,"disabledReason":"rack swap"}}'
        )
        waiting.until(lambda: get(cluster, "host", host)["status"].get("status") == "disabled", what="disabled")
        cluster.apply([server("second")])
        fault = status("second", "ERROR")["fault"]["message"]
        assert fault.startswith("No valid host was found.")
        assert "ComputeFilter removed" in fault  # the disabled host (and any other test's)
        assert get(cluster, "server", "first", namespace)["status"]["status"] == "ACTIVE"  # untouched

        cluster.kubectl("patch", "host", host, "--type=merge", "-p", '{"spec":{"forcedDown":true}}')
        waiting.until(lambda: get(cluster, "host", host)["status"].get("state") == "down", what="down")
        assert get(cluster, "server", "first", namespace)["status"]["status"] == "ACTIVE"  # until maintenance

        # The aggregate's zone reached the Node, and the aggregate says what it holds.
        node = get(cluster, "node", host)
        assert node["metadata"]["labels"][labels.AVAILABILITY_ZONE] == "az-solo"
        agg = get(cluster, "aggregate", "solo")["status"]
        assert (agg["hosts"], agg["availabilityZone"], agg["missingHosts"]) == ([host], "az-solo", [])
    finally:
        cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false")
        waiting.until(lambda: not servers(cluster, namespace), timeout=60, what="servers deleted")
        unpool(cluster, "solo", [host])


@pytest.mark.usefixtures("operator")
def test_a_server_group_lists_its_members_and_their_hosts(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        [
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "sg.small"}, "spec": {"vcpus": 1, "ram": 128}},
            {
                "apiVersion": API,
                "kind": "ServerGroup",
                "metadata": {"name": "spread", "namespace": namespace},
                "spec": {"policy": "anti-affinity"},
            },
            *(
                {
                    "apiVersion": API,
                    "kind": "Server",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"flavor": "sg.small", "image": "nginx:1.27", "schedulerHints": {"group": "spread"}},
                }
                for name in ("a", "b")
            ),
        ]
    )
    st = waiting.until(
        lambda: (
            (s := get(cluster, "servergroup", "spread", namespace).get("status") or {}).get("memberCount") == 2
            and len(s.get("hosts", [])) == 2
            and s
        ),
        what="two members on two hosts",
    )
    assert [m["name"] for m in st["members"]] == ["a", "b"]
    assert st["conditions"][0]["type"] == "Ready"


@pytest.mark.usefixtures("operator")
def test_an_aggregate_with_an_unknown_host_says_so(cluster: Cluster) -> None:
    cluster.apply(
        [
            {
                "apiVersion": API,
                "kind": "Aggregate",
                "metadata": {"name": "typo"},
                "spec": {"hosts": ["compute-0", "nope"]},
            }
        ]
    )
    try:
        st = waiting.until(lambda: get(cluster, "aggregate", "typo").get("status"), what="aggregate status")
        assert (st["hosts"], st["missingHosts"]) == (["compute-0"], ["nope"])
        ready = next(c for c in st["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "HostsMissing")
    finally:
        cluster.kubectl("delete", "aggregate", "typo")
