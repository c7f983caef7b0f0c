"""The local control plane is real and behaves like a cluster: simulated compute nodes are Ready
with their capacity, Pods bound to them run with an IP, and KubeVirt VirtualMachines move
through their states as virt-controller would move them."""

from __future__ import annotations

import json

import pytest

from kubenova import labels
from kubenova.devcluster.cluster import Cluster
from tests import waiting

pytestmark = pytest.mark.integration


def test_compute_nodes_are_ready_with_capacity_zone_and_compute_label(cluster: Cluster) -> None:
    nodes = cluster.get_json("nodes", "-l", f"{labels.COMPUTE_HOST}=true")["items"]
    assert len(nodes) >= 3
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True"
        assert node["status"]["capacity"]["cpu"] == "32"
        assert node["status"]["capacity"]["memory"] == "128Gi"
        assert "topology.kubernetes.io/zone" in node["metadata"]["labels"]


def test_the_api_server_reports_its_real_version(cluster: Cluster) -> None:
    version = json.loads(cluster.raw_get("/version"))
    assert version["gitVersion"].startswith("v1.36.")


def test_a_pod_bound_to_a_node_runs_with_an_ip(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": namespace},
                "spec": {"nodeName": "compute-0", "containers": [{"name": "c", "image": "busybox"}]},
            }
        ]
    )
    pod = waiting.until(
        lambda: (p := cluster.get_json("pod", "p", "-n", namespace))["status"].get("podIP") and p,
        what="the pod to get an IP",
    )
    assert pod["status"]["phase"] == "Running"


def test_a_virtual_machine_starts_and_stops(cluster: Cluster, namespace: str) -> None:
    vm = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm", "namespace": namespace},
        "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}},
    }
    cluster.apply([vm])

    def printable() -> str:
        return str(cluster.get_json("vm", "vm", "-n", namespace).get("status", {}).get("printableStatus", ""))

    waiting.until(lambda: printable() == "Running", what="the VM to run")
    cluster.kubectl("patch", "vm", "vm", "-n", namespace, "--type=merge", "-p", '{"spec":{"runStrategy":"Halted"}}')
    waiting.until(lambda: printable() == "Stopped", what="the VM to stop")
