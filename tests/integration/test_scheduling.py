"""Placement on the real control plane: many concurrent creates never oversubscribe a host, a
disabled host takes no new servers, a forced-down host is down, and Aggregates and
ServerGroups report their status (and the zone reaches the Nodes)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from kubenova import labels
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
RESERVED_MB = 512  # the operator's default reserved_host_memory_mb


def pool(made: Made, name: str, count: int, first: int, *, zone: str | None = None) -> list[str]:
    """``count`` small hosts (2 cores, 4 GiB) in an Aggregate of their own, which only flavors
    asking for ``pool=<name>`` use (AggregateInstanceExtraSpecsFilter). ``made`` deletes them."""
    hosts = made.add_nodes(count, prefix=name, first=first, cpu=2, memory_gib=4, zones=())
    spec: dict[str, Any] = {"hosts": hosts, "metadata": {"pool": name}}
    if zone:
        spec["availabilityZone"] = zone
    made.apply(
        [
            k.manifest("Aggregate", name, **spec),
            k.flavor(f"{name}.small", vcpus=1, ram=1024, extraSpecs={"aggregate_instance_extra_specs:pool": name}),
        ]
    )
    return hosts


def unlimited(cluster: Cluster, namespace: str) -> None:
    cluster.apply([k.manifest("Quota", "default", namespace, instances=-1, cores=-1, ram=-1)])


def delete_servers(cluster: Cluster, kube: Client, namespace: str) -> None:
    """Before the pool's Nodes go: a Host with servers on it stays (down) until they are gone."""
    cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false")
    waiting.until(lambda: not k.items(kube, "server", namespace), timeout=60, what="servers deleted")


@pytest.mark.usefixtures("operator")
def test_two_hundred_concurrent_creates_on_twenty_hosts_never_oversubscribe(
    cluster: Cluster, kube: Client, namespace: str, made: Made
) -> None:
    hosts = pool(made, "p200", 20, first=200)
    try:
        unlimited(cluster, namespace)
        spec = {"flavor": "p200.small", "image": "nginx:1.27", "backend": "container"}
        assert k.create_all(cluster.kubeconfig, namespace, 200, **spec) == []

        def settled() -> list[dict[str, Any]] | None:
            found = k.items(kube, "server", namespace)
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
                st = k.get(kube, "host", h)["status"]
                # As os-hypervisors: memory_mb_used counts the reserved memory too.
                used = claimed.get(h, 0) * 1024 + RESERVED_MB
                if st.get("memoryMbUsed") != used or used > st["memoryMb"] or st["runningVms"] != claimed.get(h, 0):
                    return False
            return True

        waiting.until(hosts_report_it, what="Host status shows the same usage, within capacity")
    finally:
        delete_servers(cluster, kube, namespace)


@pytest.mark.usefixtures("operator")
def test_a_disabled_host_takes_no_new_server_and_a_forced_down_one_is_down(
    cluster: Cluster, kube: Client, namespace: str, made: Made
) -> None:
    (host,) = pool(made, "solo", 1, first=300, zone="az-solo")
    try:
        unlimited(cluster, namespace)

        def server(name: str) -> dict[str, Any]:
            return k.server(name, namespace, flavor="solo.small", image="nginx:1.27")

        def status(name: str, wanted: str) -> dict[str, Any]:
            return k.wait_for(
                kube, "server", name, namespace, check=lambda st: st.get("status") == wanted, what=f"{name} {wanted}"
            )

        cluster.apply([server("first")])
        assert status("first", "ACTIVE")["host"] == host

        cluster.kubectl(
            "patch", "host", host, "--type=merge", "-p", '{"spec":{"enabled":false,"disabledReason":"rack swap"}}'
        )
        k.wait_for(kube, "host", host, check=lambda st: st.get("status") == "disabled", what="disabled")
        cluster.apply([server("second")])
        fault = status("second", "ERROR")["fault"]["message"]
        assert fault.startswith("No valid host was found.")
        assert "ComputeFilter removed" in fault  # the disabled host (and any other test's)
        assert k.get(kube, "server", "first", namespace)["status"]["status"] == "ACTIVE"  # untouched

        cluster.kubectl("patch", "host", host, "--type=merge", "-p", '{"spec":{"forcedDown":true}}')
        k.wait_for(kube, "host", host, check=lambda st: st.get("state") == "down", what="down")
        assert k.get(kube, "server", "first", namespace)["status"]["status"] == "ACTIVE"  # until maintenance

        # The aggregate's zone reached the Node, and the aggregate says what it holds.
        node = k.get(kube, "node", host)
        assert node["metadata"]["labels"][labels.AVAILABILITY_ZONE] == "az-solo"
        agg = k.get(kube, "aggregate", "solo")["status"]
        assert (agg["hosts"], agg["availabilityZone"], agg["missingHosts"]) == ([host], "az-solo", [])
    finally:
        delete_servers(cluster, kube, namespace)


@pytest.mark.usefixtures("operator")
def test_a_server_group_lists_its_members_and_their_hosts(kube: Client, namespace: str, made: Made) -> None:
    made.apply(
        [
            k.flavor("sg.small", vcpus=1, ram=128),
            k.manifest("ServerGroup", "spread", namespace, policy="anti-affinity"),
            *(
                k.server(name, namespace, flavor="sg.small", image="nginx:1.27", schedulerHints={"group": "spread"})
                for name in ("a", "b")
            ),
        ]
    )
    st = k.wait_for(
        kube,
        "servergroup",
        "spread",
        namespace,
        check=lambda s: s.get("memberCount") == 2 and len(s.get("hosts", [])) == 2,
        what="two members on two hosts",
    )
    assert [m["name"] for m in st["members"]] == ["a", "b"]
    assert st["conditions"][0]["type"] == "Ready"


@pytest.mark.usefixtures("operator")
def test_an_aggregate_with_an_unknown_host_says_so(kube: Client, made: Made) -> None:
    made.apply([k.manifest("Aggregate", "typo", hosts=["compute-0", "nope"])])
    st = k.wait_for(kube, "aggregate", "typo", check=bool, what="aggregate status")
    assert (st["hosts"], st["missingHosts"]) == (["compute-0"], ["nope"])
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "HostsMissing")
