"""The simulated virt-controller's pure part (hack/devcluster/instances.py): the instance a VM
gets, its deterministic addresses, and a live migration's phases, target and failures."""

from __future__ import annotations

import ipaddress
from typing import Any

from hack.devcluster import instances
from hack.devcluster.instances import Node

NOW = "2026-01-01T00:00:00Z"


def vm(uid: str = "u1", host: str = "compute-0", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "demo", "uid": uid},
        "spec": {
            "runStrategy": "Always",
            "template": {
                "metadata": {
                    "labels": {"compute.kubenova.io/server": "web"},
                    "annotations": {instances.REVISION: "r1"},
                },
                "spec": {"nodeSelector": {instances.HOSTNAME: host}, "evictionStrategy": "External"},
            },
            **spec,
        },
    }


def running(host: str = "compute-0") -> dict[str, Any]:
    body = instances.instance(vm(host=host))
    body["metadata"]["uid"] = "vmi-uid"
    body["status"] = instances.instance_status(vm(), host, now=NOW)
    return body


NODES = [Node("compute-0", {}, True), Node("compute-1", {}, True), Node("compute-2", {}, True)]


def test_a_vm_runs_by_its_run_strategy() -> None:
    assert instances.should_run(vm())
    assert not instances.should_run(vm(runStrategy="Halted"))
    assert instances.pinned_host(vm(host="compute-2")) == "compute-2"


def test_addresses_are_deterministic_from_the_uid_and_never_routable() -> None:
    first = instances.interfaces(vm("u1"))
    assert first == instances.interfaces(vm("u1")) != instances.interfaces(vm("u2"))
    v4, v6 = (ipaddress.ip_address(a) for a in first[0]["ipAddresses"])
    assert v4 in ipaddress.ip_network("198.18.0.0/15")
    assert v6 in ipaddress.ip_network("2001:db8::/32")
    assert int(first[0]["mac"].split(":")[0], 16) & 0x02  # locally administered


def test_the_instance_copies_the_template_and_is_owned_by_the_vm() -> None:
    body = instances.instance(vm())
    assert body["metadata"]["labels"] == {"compute.kubenova.io/server": "web", "vm.kubevirt.io/name": "web"}
    assert body["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert body["spec"]["nodeSelector"] == {instances.HOSTNAME: "compute-0"}
    assert instances.protected(body)


def test_a_new_boot_is_a_new_instance_and_a_new_selector_a_live_update() -> None:
    later = vm(host="compute-1")
    later["spec"]["template"]["metadata"]["annotations"][instances.REVISION] = "r2"
    assert instances.stale(later, running())
    assert instances.live_update(vm(host="compute-1"), running()) == {
        "spec": {"nodeSelector": {instances.HOSTNAME: "compute-1"}}
    }
    assert instances.live_update(vm(), running()) is None


def migration(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-m", "namespace": "demo", "uid": "m1"},
        "spec": {"vmiName": "web", "addedNodeSelector": {instances.HOSTNAME: "compute-1"}},
        "status": status,
    }


def run(m: dict[str, Any], vmi: dict[str, Any], nodes: list[Node]) -> list[str]:
    phases = []
    while (step := instances.next_migration_step(m, vmi, nodes, now=NOW)) is not None:
        m = {**m, "status": step.migration_status}
        if step.vmi_status:
            vmi = {**vmi, "status": {**vmi["status"], **step.vmi_status}}
        phases.append(step.migration_status["phase"])
    assert vmi["status"]["nodeName"] == ("compute-1" if phases[-1] == "Succeeded" else "compute-0")
    return phases


def test_a_migration_runs_its_phases_to_the_added_node_selector() -> None:
    vmi = running()
    vmi["spec"]["nodeSelector"] = {}  # as after the VM's selector went live to the instance
    assert run(migration(), vmi, NODES) == ["Pending", "Scheduling", "Running", "Succeeded"]


def test_the_instances_own_selector_wins_a_collision_so_no_node_fits() -> None:
    # Pinned to compute-0 by hostname, asked for compute-1: KubeVirt keeps the VM's value.
    assert run(migration(), running(), NODES) == ["Pending", "Failed"]


def test_a_target_with_the_failure_label_fails_the_migration() -> None:
    vmi = running()
    vmi["spec"]["nodeSelector"] = {}
    nodes = [NODES[0], Node("compute-1", {instances.FAIL_LABEL: "true"}, True)]
    assert run(migration(), vmi, nodes) == ["Pending", "Scheduling", "Running", "Failed"]


def test_a_deleted_migration_is_aborted() -> None:
    m = migration(phase="Running", migrationState={"migrationUid": "m1", "targetNode": "compute-1"})
    m["metadata"]["deletionTimestamp"] = NOW
    vmi = running()
    vmi["status"]["migrationState"] = {"migrationUid": "m1"}
    step = instances.next_migration_step(m, vmi, NODES, now=NOW)
    assert step is not None
    assert step.migration_status["phase"] == "Failed"
    assert step.vmi_status == {
        "migrationState": {
            "migrationUid": "m1",
            "abortRequested": True,
            "abortStatus": "Succeeded",
            "failed": True,
            "endTimestamp": NOW,
        }
    }


def test_a_cordoned_node_marks_its_external_instances_for_evacuation() -> None:
    cordoned = [Node("compute-0", {}, False), *NODES[1:]]
    assert instances.evacuation(running(), cordoned) == {"evacuationNodeName": "compute-0"}
    assert instances.evacuation(running(), NODES) is None
    live_migrate = running()
    live_migrate["spec"]["evictionStrategy"] = "LiveMigrate"  # KubeVirt's own evacuation, not marked
    assert instances.evacuation(live_migrate, cordoned) is None
