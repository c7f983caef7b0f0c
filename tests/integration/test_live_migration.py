"""Live migration of a kubevirt server through KubeVirt's VirtualMachineInstanceMigration (run by
the dev cluster's simulated virt-controller): to a chosen host with claims on both hosts while it
moves and one after; a failed migration back on the source with a fault; an abort back on the
source without one; force_complete and abort refused with Nova's messages when nothing is in
flight; and the container backend's 501."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta

from hack.devcluster import instances
from hack.devcluster.cluster import Cluster
from kubenova.kube import resources
from kubenova.servers.claims import claims_of
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator", "flavors")]
IMAGE = "quay.io/containerdisks/fedora:40"


@pytest.fixture(scope="module")
def flavors(module_made: Made) -> None:
    module_made.apply([k.flavor("live.small", vcpus=1, ram=512, disk=1)])


def create(cluster: Cluster, kube: Client, namespace: str, name: str = "vm1", backend: str = "kubevirt") -> k.Srv:
    image = IMAGE if backend == "kubevirt" else "nginx:1.27"
    cluster.apply([k.server(name, namespace, flavor="live.small", image=image, backend=backend)])
    srv = k.Srv(kube, namespace, name)
    srv.wait("ACTIVE")
    return srv


def start(srv: k.Srv, action: str, **spec: Any) -> str:
    """Create a ServerAction without waiting for it; its name."""
    name = f"{srv.name}-{action.lower()}-{uuid.uuid4().hex[:5]}"
    body = {"server": srv.name, "action": action, **spec}
    srv.kube.create(resources.ServerAction(metadata=ObjectMeta(name=name, namespace=srv.namespace), spec=body))
    return name


def ended(srv: k.Srv, name: str) -> dict[str, Any]:
    return k.wait_for(
        srv.kube, "serveraction", name, srv.namespace, check=lambda s: s.get("phase") in ("Succeeded", "Failed")
    )


def label(cluster: Cluster, node: str, key: str, value: str | None) -> None:
    cluster.kubectl("label", "node", node, f"{key}={value}" if value else f"{key}-", "--overwrite")


def other_host(srv: k.Srv, cluster: Cluster, *avoid: str) -> str:
    names = sorted(str(n["metadata"]["name"]) for n in cluster.get_json("nodes")["items"])
    return next(n for n in names if n not in (srv.status["host"], *avoid))


def usage(kube: Client, host: str) -> int:
    return int(k.status(kube, "host", host).get("vcpusUsed") or 0)


def held(kube: Client, host: str) -> int:
    """The vCPUs every server's claims hold on ``host`` (other tests' servers included: one being
    deleted still holds its claim), which the Host's usage must come to."""
    return sum(
        c.vcpus for s in k.items(kube, "server") for c in claims_of(s.get("status") or {}).values() if c.host == host
    )


def counts_claims(kube: Client, *hosts: str) -> bool:
    return all(usage(kube, h) == held(kube, h) for h in hosts)


def test_a_vm_live_migrates_to_a_chosen_host_holding_both_claims_while_it_moves(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    srv = create(cluster, kube, namespace)
    source = srv.status["host"]
    dest = other_host(srv, cluster)
    label(cluster, dest, instances.HOLD_LABEL, "true")
    try:
        action = start(srv, "liveMigrate", host=dest)

        def moving(s: dict[str, Any]) -> bool:
            return s.get("status") == "MIGRATING" and (s.get("migration") or {}).get("status") == "running"

        s = k.wait_for(kube, "server", srv.name, namespace, check=moving, what="live migration running")
        assert (s["taskState"], s["host"], s["claim"]["host"]) == ("migrating", source, dest)
        assert s["migration"]["sourceClaim"]["host"] == source
        # Both hosts count the server while it moves, as Placement holds both allocations.
        waiting.until(lambda: counts_claims(kube, source, dest), what="both hosts count the moving server")
        migrations = k.items(kube, "virtualmachineinstancemigration", namespace)
        assert len(migrations) == 1
        vmim = migrations[0]
        assert vmim["spec"] == {"vmiName": srv.name, "addedNodeSelector": {"kubernetes.io/hostname": dest}}
        assert vmim["metadata"]["ownerReferences"][0]["kind"] == "Server"
        # The VM is pinned to the destination first (LiveUpdate carries it to the instance).
        vm = k.get(kube, "virtualmachine", srv.name, namespace)
        assert vm["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/hostname": dest}
    finally:
        label(cluster, dest, instances.HOLD_LABEL, None)
    result = ended(srv, action)
    assert result["phase"] == "Succeeded", result
    s = srv.wait("ACTIVE")
    assert (s["host"], s["claim"]["host"], s["migration"]["status"]) == (dest, dest, "completed")
    assert s["migration"].get("sourceClaim") is None
    assert k.get(kube, "virtualmachineinstance", srv.name, namespace)["status"]["nodeName"] == dest
    waiting.until(lambda: counts_claims(kube, source, dest), what=f"{source} lets the server go")
    assert srv.last_action()["action"] == "live-migration"
    srv.wait_reasons("LiveMigrated")


def test_a_failed_live_migration_leaves_it_active_on_the_source_with_a_fault(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    srv = create(cluster, kube, namespace)
    source = srv.status["host"]
    dest = other_host(srv, cluster)
    label(cluster, dest, instances.FAIL_LABEL, "true")
    try:
        result = ended(srv, start(srv, "liveMigrate", host=dest))
    finally:
        label(cluster, dest, instances.FAIL_LABEL, None)
    assert result["phase"] == "Failed"
    assert "failed" in result["message"]
    s = srv.wait("ACTIVE")
    assert (s["host"], s["claim"]["host"], s["migration"]["status"]) == (source, source, "error")
    assert s["migration"].get("sourceClaim") is None
    assert instances.FAIL_LABEL in s["fault"]["message"]
    assert k.get(kube, "virtualmachineinstance", srv.name, namespace)["status"]["nodeName"] == source
    vm = k.get(kube, "virtualmachine", srv.name, namespace)
    assert vm["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/hostname": source}
    srv.wait_reasons("LiveMigrationFailed")


def test_abort_returns_it_to_the_source_and_force_complete_needs_a_migration(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    srv = create(cluster, kube, namespace)
    source = srv.status["host"]
    refused = ended(srv, start(srv, "forceComplete"))
    assert refused["phase"] == "Failed"
    uid = srv.get()["metadata"]["uid"]
    assert refused["message"] == f"Cannot 'force_complete' instance {uid} while it is in task_state None"
    dest = other_host(srv, cluster)
    label(cluster, dest, instances.HOLD_LABEL, "true")
    try:
        action = start(srv, "liveMigrate", host=dest)
        k.wait_for(
            kube, "server", srv.name, namespace,
            check=lambda s: (s.get("migration") or {}).get("status") == "running", what="live migration running",
        )  # fmt: skip
        assert ended(srv, start(srv, "forceComplete"))["phase"] == "Succeeded"
        assert ended(srv, start(srv, "abortLiveMigration"))["phase"] == "Succeeded"
        result = ended(srv, action)
    finally:
        label(cluster, dest, instances.HOLD_LABEL, None)
    assert result["phase"] == "Failed"
    assert result["message"] == "The live migration was aborted."
    s = srv.wait("ACTIVE")
    assert (s["host"], s["claim"]["host"], s["migration"]["status"]) == (source, source, "cancelled")
    assert not s.get("fault")
    assert k.get(kube, "virtualmachineinstance", srv.name, namespace)["status"]["nodeName"] == source


def test_the_container_backend_still_refuses_live_migration(cluster: Cluster, kube: Client, namespace: str) -> None:
    srv = create(cluster, kube, namespace, "pod1", backend="container")
    result = ended(srv, start(srv, "liveMigrate"))
    assert result["phase"] == "Failed"
    assert result["fault"]["code"] == 501
    assert json.dumps(result["message"]).count("cannot os-migrateLive")


def on_node(kube: Client, namespace: str, node: str) -> list[str]:
    return [p["metadata"]["name"] for p in k.items(kube, "pod", namespace) if p["spec"].get("nodeName") == node]


def test_kubectl_drain_of_a_compute_node_with_a_vm_live_migrates_it_and_completes(
    cluster: Cluster, kube: Client, namespace: str, made: Made
) -> None:
    (node,) = made.add_nodes(1, prefix="drain")
    k.wait_for(kube, "host", node, check=lambda s: s.get("state") == "up", what=f"host {node} up")
    srv = create(cluster, kube, namespace)
    if srv.status["host"] != node:  # the empty new host is the scheduler's choice, else move it there
        assert ended(srv, start(srv, "liveMigrate", host=node))["phase"] == "Succeeded"
        assert srv.wait("ACTIVE")["host"] == node
    vm = k.get(kube, "virtualmachine", srv.name, namespace)
    assert vm["spec"]["template"]["spec"]["evictionStrategy"] == "External"
    launchers = waiting.until(lambda: on_node(kube, namespace, node), what=f"a launcher Pod on {node}")
    budgets = cluster.get_json("poddisruptionbudgets", "-n", namespace)["items"]
    assert [b["spec"]["minAvailable"] for b in budgets] == [1]  # the Pod cannot just be evicted

    drained = cluster.kubectl("drain", node, "--ignore-daemonsets", "--timeout=90s", check=False, timeout=120)
    assert drained.returncode == 0, drained.stderr
    s = srv.wait("ACTIVE")
    assert s["host"] != node
    assert (s["migration"]["kind"], s["migration"]["sourceHost"], s["migration"]["status"]) == (
        "live-migration",
        node,
        "completed",
    )
    assert not set(launchers) & set(on_node(kube, namespace, node))
    assert k.get(kube, "virtualmachineinstance", srv.name, namespace)["status"]["nodeName"] == s["host"]


def test_host_maintenance_migrate_moves_a_vm_live(cluster: Cluster, kube: Client, namespace: str) -> None:
    srv = create(cluster, kube, namespace)
    host = srv.status["host"]

    def maintenance(mode: str | None) -> None:
        cluster.kubectl("patch", "host", host, "--type=merge", "-p", json.dumps({"spec": {"maintenance": mode}}))

    maintenance("migrate")
    try:

        def moved() -> dict[str, Any] | None:
            st = srv.status
            return st if st.get("status") == "ACTIVE" and st.get("host") not in (None, host) else None

        s = waiting.until(moved, what="moved live off the host")
    finally:
        maintenance(None)
    assert s["migration"]["kind"] == "live-migration"
    assert [a["action"] for a in s["actions"]][-1] == "live-migration"
