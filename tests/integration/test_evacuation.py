"""Evacuation end to end: a compute Node lost for good (its kubelet gone: NotReady, and its Host
forced down as Nova requires) with servers of both backends on it; ``evacuate`` ServerActions
rebuild them on another host; when the lost Node comes back, no second copy of a server runs
(Nova's evacuated-instance cleanup: the stale workload is gone or deleted)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster import faults
from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from kubenova.backends.workload import SERVER_LABEL
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
ZONE = "evac"
IMAGES = {"container": "nginx:1.27", "kubevirt": "quay.io/containerdisks/fedora:40"}


def workloads(kube: Client, namespace: str) -> list[dict[str, Any]]:
    return k.workloads(kube, namespace)


def test_evacuated_servers_are_not_resurrected_when_their_node_returns(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str, made: Made
) -> None:
    # A namespace's Pods need its default ServiceAccount (made by kube-controller-manager a
    # moment after the namespace, later still after an earlier test restarted kube-apiserver).
    waiting.until(lambda: k.get(kube, "serviceaccount", "default", namespace), timeout=120, what="default SA")
    lost, spare = made.add_nodes(2, prefix="evac", first=750, zones=())
    try:
        evacuate_and_return(cluster, kube, made, namespace, hosts=(lost, spare))
    finally:  # the Hosts go only once no server claims them (made's clean-up waits for that)
        cluster.kubectl("delete", "servers", "--all", "-n", namespace, "--wait=false")


def evacuate_and_return(cluster: Cluster, kube: Client, made: Made, namespace: str, *, hosts: tuple[str, str]) -> None:
    lost, spare = hosts
    made.apply(
        [
            k.flavor("evac.small", vcpus=1, ram=256),
            k.manifest("Aggregate", ZONE, hosts=[lost], availabilityZone=ZONE),
        ]
    )
    k.wait_for(kube, "host", lost, check=lambda s: s.get("availabilityZone") == ZONE, what="lost host zoned")
    for backend, image in IMAGES.items():
        cluster.apply([k.server(backend, namespace, flavor="evac.small", image=image, backend=backend,
                                availabilityZone=ZONE)])  # fmt: skip
    for backend in IMAGES:
        assert k.Srv(kube, namespace, backend).wait("ACTIVE", timeout=60)["host"] == lost
    # The spare joins the zone only now, so that both servers are on the host that is lost.
    cluster.apply([k.manifest("Aggregate", ZONE, hosts=[lost, spare], availabilityZone=ZONE)])
    k.wait_for(kube, "host", spare, check=lambda s: s.get("availabilityZone") == ZONE, what="spare host zoned")

    faults.node_lost(cluster, lost)
    cluster.kubectl("patch", "host", lost, "--type=merge", "-p", json.dumps({"spec": {"forcedDown": True}}))
    k.wait_for(kube, "host", lost, check=lambda s: s.get("state") == "down", what="lost host down")
    try:
        for backend in IMAGES:
            srv = k.Srv(kube, namespace, backend)
            result = srv.act("evacuate")
            assert result["phase"] == "Succeeded", result

            def rebuilt(srv: k.Srv = srv) -> dict[str, Any] | None:
                st = srv.status
                return st if st.get("status") == "ACTIVE" and st.get("host") == spare else None

            try:
                s = waiting.until(rebuilt, timeout=120, what=f"{backend} rebuilt on {spare}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; status {json.dumps(srv.status)}") from None
            assert (s["migration"]["kind"], s["migration"]["status"]) == ("evacuation", "done")
    finally:
        faults.node_back(cluster, lost)
        cluster.kubectl("patch", "host", lost, "--type=merge", "-p", json.dumps({"spec": {"forcedDown": False}}))
    k.wait_for(kube, "host", lost, check=lambda s: s.get("state") == "up", timeout=60, what="lost host up again")

    def one_copy_each_on_the_spare() -> list[dict[str, Any]] | None:
        found = workloads(kube, namespace)
        per = Counter(w["metadata"]["labels"][SERVER_LABEL] for w in found)
        stale = [w for w in found if w["spec"].get("nodeName") == lost]  # Pods (a VM has no nodeName)
        return found if per == Counter(IMAGES.keys()) and not stale else None

    waiting.until(one_copy_each_on_the_spare, timeout=120, what="one workload per server, none on the returned node")
    for backend in IMAGES:
        s = k.Srv(kube, namespace, backend).wait("ACTIVE")
        assert s["host"] == spare

    # The Host's usage follows within the usage interval (KUBENOVA_USAGE_INTERVAL_SECONDS).
    def lost_reports_none() -> dict[str, Any] | None:
        found = k.status(kube, "host", lost)
        return found if not found.get("servers") else None

    lost_status = waiting.until(lost_reports_none, what=f"{lost} reports no server")
    assert lost_status.get("vcpusUsed", 0) == 0
