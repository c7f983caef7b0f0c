"""The dev cluster's fake virt-api changes a VirtualMachine's status as KubeVirt shows a pause, and
refuses what virt-api refuses, in its words."""

from __future__ import annotations

from typing import Any

import pytest

from hack.devcluster import virtapi, vmactions

NOW = "2026-11-24T12:00:00Z"


def vm(printable: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    others = {"type": "AgentConnected", "status": "True"}
    return {"metadata": {"name": "vm"}, "status": {"printableStatus": printable, "conditions": [others, *conditions]}}


def test_pause_shows_paused_by_user_and_not_ready_and_unpause_undoes_it() -> None:
    paused = vmactions.status_patch(vm("Running", {"type": "Ready", "status": "True"}), "pause", now=NOW)
    assert paused is not None
    assert (paused["printableStatus"], paused["ready"]) == ("Paused", False)
    by_type = {c["type"]: c for c in paused["conditions"]}
    assert (by_type["Paused"]["status"], by_type["Paused"]["reason"]) == ("True", "PausedByUser")
    assert by_type["Ready"]["status"] == "False"
    assert by_type["AgentConnected"]["status"] == "True"  # the others are kept (a merge patch replaces lists)

    running = vmactions.status_patch({"metadata": {"name": "vm"}, "status": paused}, "unpause", now=NOW)
    assert running is not None
    assert (running["printableStatus"], running["ready"]) == ("Running", True)
    assert sorted(c["type"] for c in running["conditions"]) == ["AgentConnected", "Ready"]


@pytest.mark.parametrize(
    ("printable", "action", "why"),
    [
        ("Paused", "pause", "VMI is already paused"),
        ("Running", "unpause", "VMI is not paused"),
        ("Stopped", "pause", "VMI is not running"),
        ("Starting", "unpause", "VMI is not running"),
        ("Paused", "softreboot", "VMI is paused"),
    ],
)
def test_refusals_are_virt_apis_conflicts(printable: str, action: str, why: str) -> None:
    with pytest.raises(vmactions.Refused) as info:
        vmactions.status_patch(vm(printable), action, now=NOW)
    assert (info.value.code, info.value.status["reason"]) == (409, "Conflict")
    assert info.value.status["message"].endswith(f": {why}")


def test_a_soft_reboot_of_a_running_vm_changes_no_status() -> None:
    assert vmactions.status_patch(vm("Running"), "softreboot", now=NOW) is None


def test_registration_points_the_apiservice_at_an_external_name_service_on_loopback() -> None:
    objs = {o["kind"]: o for o in virtapi.manifests("127.0.0.1", 8443, b"CA")}
    assert set(objs) == {"Namespace", "Service", "APIService"}  # no EndpointSlice
    assert objs["APIService"]["metadata"]["name"] == "v1.subresources.kubevirt.io"
    service = objs["Service"]["spec"]
    assert (service["type"], service["externalName"]) == ("ExternalName", "127.0.0.1")
    assert "selector" not in service
    # kube-apiserver dials the APIService's port at the Service's externalName.
    assert objs["APIService"]["spec"]["service"] == {"namespace": "kubevirt", "name": "virt-api", "port": 8443}


@pytest.mark.parametrize("address", ["192.0.2.2", "10.0.0.1", "example.com", "::ffff:10.0.0.1"])
def test_registration_refuses_an_address_off_loopback(address: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        virtapi.manifests(address, 8443, b"CA")


def running_vm(*volumes: dict[str, Any]) -> dict[str, Any]:
    root = {"name": "root", "containerDisk": {"image": "x"}}
    disks = [{"name": v["name"], "disk": {"bus": "scsi"}} for v in volumes]
    return {
        "metadata": {"name": "vm"},
        "spec": {
            "template": {
                "spec": {
                    "volumes": [root, *volumes],
                    "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}, *disks]}},
                }
            }
        },
    }


ADD = {
    "name": "vol-data",
    "disk": {"disk": {"bus": "scsi"}},
    "volumeSource": {"persistentVolumeClaim": {"claimName": "data"}},
}


def test_addvolume_writes_a_hotpluggable_volume_and_its_disk_guarded_by_test_ops() -> None:
    vm = running_vm()
    ops = vmactions.volume_patch(vm, "addvolume", ADD)
    assert [o["op"] for o in ops] == ["test", "test", "replace", "replace"]
    volumes, disks = ops[2]["value"], ops[3]["value"]
    assert volumes[-1] == {"name": "vol-data", "persistentVolumeClaim": {"claimName": "data", "hotpluggable": True}}
    assert disks[-1] == {"name": "vol-data", "disk": {"bus": "scsi"}}


def test_addvolume_and_removevolume_refuse_as_virt_api_does() -> None:
    hot = {"name": "vol-data", "persistentVolumeClaim": {"claimName": "data", "hotpluggable": True}}
    with pytest.raises(
        vmactions.Refused, match=r"Unable to add volume \[vol-data\] because volume with that name already exists"
    ):
        vmactions.volume_patch(running_vm(hot), "addvolume", ADD)
    with pytest.raises(vmactions.Refused, match=r"Unable to remove volume \[gone\] because it does not exist"):
        vmactions.volume_patch(running_vm(), "removevolume", {"name": "gone"})
    with pytest.raises(vmactions.Refused, match=r"Unable to remove volume \[root\] because it is not hotpluggable"):
        vmactions.volume_patch(running_vm(), "removevolume", {"name": "root"})
    with pytest.raises(vmactions.Refused, match="AddVolumeOptions requires disk to not be nil"):
        vmactions.volume_patch(running_vm(), "addvolume", {"name": "x"})
    ops = vmactions.volume_patch(running_vm(hot), "removevolume", {"name": "data"})  # by claim name too
    assert [v["name"] for v in ops[2]["value"]] == ["root"]
    assert [d["name"] for d in ops[3]["value"]] == ["root"]
