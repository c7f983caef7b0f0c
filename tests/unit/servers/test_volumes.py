"""Volumes in the planner: spec.volumes attaches and detaches in Nova's states with Nova's
refusals; a VM hot-plugs as a task, a container records the change for the Pod's next start."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubenova.backends.workload import Observation
from kubenova.nova.actions import Action
from kubenova.servers import build, plan, tasks, volumes
from kubenova.servers.view import Facts
from tests.unit.servers.fakes import NOW, UID, World, active, server, written

VM: dict[str, Any] = {
    "backend": "kubevirt",
    "workload": {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "s1", "revision": "req-0"},
}


def vm_status(**extra: Any) -> dict[str, Any]:
    """A running VM's status, with ``extra``."""
    return {**active(), **VM, **extra}


def facts(claims: dict[str, list[str]] | None = None, holders: dict[str, list[str]] | None = None) -> Facts:
    """Facts with PVCs (name → access modes) and the servers holding each claim."""
    known = {"data": ["ReadWriteOnce"]} if claims is None else claims
    held = holders or {}
    return dataclasses.replace(
        World().facts(),
        claim=lambda ns, name: {"accessModes": known[name]} if name in known else None,
        claim_holders=lambda ns, name: held.get(name, []),
    )


def attachments(patch: dict[str, Any] | None) -> list[tuple[str, str]]:
    assert patch is not None
    return [(a["id"], a.get("state", "attached")) for a in patch["volumeAttachments"]]


def test_next_change_detaches_first_then_attaches_in_the_spec_order() -> None:
    status = {"volumeAttachments": [{"id": "old", "state": "attached"}]}
    spec = {"volumes": [{"claimName": "a"}, {"claimName": "b"}]}
    assert volumes.next_change(spec, status) == (Action.DETACH_VOLUME, "old")
    assert volumes.next_change(spec, {}) == (Action.ATTACH_VOLUME, "a")
    both = {"volumeAttachments": [{"id": "a"}, {"id": "b"}]}
    assert volumes.next_change(spec, both) is None


def test_the_root_volume_is_never_detached() -> None:
    status = {"volumeAttachments": [volumes.root_entry("root", UID)]}
    assert volumes.next_change({"bootVolume": {"claimName": "root"}}, status) is None
    assert volumes.next_change({}, {"volumeAttachments": [{"id": "root"}]}) == (Action.DETACH_VOLUME, "root")
    assert volumes.next_change({"bootVolume": {"claimName": "root"}}, {"volumeAttachments": [{"id": "root"}]}) is None


def test_a_boot_from_volume_server_lists_its_root_volume() -> None:
    s = server(bootVolume={"claimName": "root"}, backend="kubevirt", image=None)
    patch = build.accept(s, World().facts(), NOW).patch
    assert patch is not None
    assert patch["volumesAttached"] == [{"id": "root", "deleteOnTermination": False}]
    assert patch["volumeAttachments"][0]["root"] is True


def test_a_running_vm_hot_plugs_a_volume_as_a_task_then_it_is_attached() -> None:
    s = server(vm_status(), volumes=[{"claimName": "data", "tag": "db"}])
    out = plan.follow_spec(s, facts(), NOW)
    assert out.patch is not None
    assert out.patch["taskState"] == "attaching"
    assert out.patch["actions"][-1]["action"] == "attach_volume"
    assert attachments(out.patch) == [("data", "attaching")]
    entry = out.patch["volumeAttachments"][0]
    assert (entry["device"], entry["tag"], entry["serverId"]) == ("/dev/vdb", "db", UID)
    assert out.patch["volumesAttached"] == []  # not yet
    s = written(s, out.patch)
    # The workload must carry it; until KubeVirt shows it in the VM's spec, nothing ends.
    target = plan.workload(s, facts())
    assert target is not None
    assert target.server.volumes == ("data",)
    running = Observation(exists=True, power="RUNNING", ready=True, revision="req-0")
    assert plan.converge(s, running, NOW).patch is None
    done = plan.converge(s, dataclasses.replace(running, volumes=frozenset({"data"})), NOW)
    assert done.patch is not None
    assert done.patch["taskState"] is None
    assert attachments(done.patch) == [("data", "attached")]
    assert done.patch["volumesAttached"] == [{"id": "data", "deleteOnTermination": False}]
    assert [e.reason for e in done.events] == ["VolumeAttached"]


def test_a_detach_finishing_wakes_the_servers_waiting_for_the_claim() -> None:
    status = vm_status(volumeAttachments=[{"id": "data", "device": "/dev/vdb", "state": "attached"}])
    s = server(status, volumes=[])
    out = plan.follow_spec(s, facts(), NOW)
    assert out.patch is not None
    assert out.patch["taskState"] == "detaching"
    s = written(s, out.patch)
    assert plan.workload(s, facts()).server.volumes == ()  # type: ignore[union-attr]
    done = plan.converge(s, Observation(exists=True, power="RUNNING", ready=True, revision="req-0"), NOW)
    assert done.patch is not None
    assert done.patch["volumeAttachments"] == []
    assert done.wake == ("ns/data",)


def test_a_claim_in_use_by_another_server_is_refused_unless_it_is_readwritemany() -> None:
    s = server(vm_status(), volumes=[{"claimName": "data"}])
    out = plan.follow_spec(s, facts(holders={"data": ["other"]}), NOW)
    assert out.patch is not None
    fault = out.patch["fault"]
    assert fault["code"] == 400
    assert fault["message"].startswith(
        "Invalid volume: Volume data status must be available or downloading to reserve, "
        "but the current status is in-use."
    )
    assert [e.reason for e in out.events] == ["ActionRefused"]
    # said once: the next pass writes nothing
    assert plan.follow_spec(written(s, out.patch), facts(holders={"data": ["other"]}), NOW).patch is None
    rwx = facts(claims={"data": ["ReadWriteMany"]}, holders={"data": ["other"]})
    assert plan.follow_spec(s, rwx, NOW).patch["taskState"] == "attaching"  # type: ignore[index]


def test_a_missing_claim_is_novas_404_and_no_task() -> None:
    s = server(vm_status(), volumes=[{"claimName": "later"}])
    out = plan.follow_spec(s, facts(), NOW)
    assert out.patch is not None
    assert out.patch["fault"]["code"] == 404
    assert out.patch["fault"]["message"].startswith("Volume later could not be found.")
    assert "taskState" not in out.patch


@pytest.mark.parametrize("vm_state", ["suspended", "rescued", "error"])
def test_attach_in_a_state_nova_refuses_is_its_409(vm_state: str) -> None:
    s = server(vm_status(vmState=vm_state), volumes=[{"claimName": "data"}], rescue=vm_state == "rescued")
    if vm_state == "suspended":
        s = server(vm_status(vmState=vm_state), volumes=[{"claimName": "data"}], state="suspended")
    out = plan.follow_spec(s, facts(), NOW)
    if vm_state == "error":
        assert out.patch is None or "fault" not in out.patch  # ERROR waits on the user first
        return
    assert out.patch is not None
    assert out.patch["fault"] == {
        "code": 409,
        "message": f"Cannot 'attach_volume' instance {UID} while it is in vm_state {vm_state}",
        "created": NOW,
    } | {k: v for k, v in out.patch["fault"].items() if k not in ("code", "message", "created")}


def test_a_locked_server_refuses_an_attach() -> None:
    s = server(vm_status(locked=True), volumes=[{"claimName": "data"}], locked=True)
    out = plan.follow_spec(s, facts(), NOW)
    assert out.patch is not None
    assert out.patch["fault"]["message"] == f"Instance {UID} is locked"


def test_a_shelved_offloaded_vm_records_the_attachment_at_once() -> None:
    status = vm_status(workload=None, vmState="shelved_offloaded", claim=None, host=None)
    out = plan.follow_spec(server(status, volumes=[{"claimName": "data"}], state="shelved_offloaded"), facts(), NOW)
    assert out.patch is not None
    assert out.patch["taskState"] is None
    assert attachments(out.patch) == [("data", "attached")]
    assert out.patch["actions"][-1]["result"] == "Success"


def test_a_running_container_gets_the_volume_at_its_next_start_never_restarted_for_it() -> None:
    s = server(active(), volumes=[{"claimName": "data"}])
    out = plan.follow_spec(s, facts(), NOW)
    assert out.patch is not None
    assert out.patch["taskState"] is None  # no task: nothing is done to the Pod
    assert out.patch["volumeAttachments"][0]["pendingRestart"] is True
    pending = next(c for c in out.patch["conditions"] if c["type"] == volumes.PENDING)
    assert (pending["status"], pending["reason"]) == ("True", "PendingRestart")
    assert [e.reason for e in out.events] == ["VolumePending"]
    s = written(s, out.patch)
    assert plan.follow_spec(s, facts(), NOW).patch is None  # as declared; waiting for a start
    # A stop and a start make the Pod again, with the claim: the change is no longer pending.
    stopped = written(s, {"vmState": "stopped", "powerState": "SHUTDOWN", "status": "SHUTOFF"})
    start = plan.follow_spec(
        server(dict(stopped.status), volumes=[{"claimName": "data"}], state="active"), facts(), NOW
    )
    assert start.patch is not None
    s = written(stopped, start.patch)
    assert plan.workload(s, facts()).server.volumes == ("data",)  # type: ignore[union-attr]
    obs = Observation(
        exists=True, power="RUNNING", ready=True, revision=tasks.revision(s.status), volumes=frozenset({"data"})
    )
    done = plan.converge(s, obs, NOW)
    assert done.patch is not None
    assert "pendingRestart" not in done.patch["volumeAttachments"][0]
    cond = next(c for c in done.patch["conditions"] if c["type"] == volumes.PENDING)
    assert cond["status"] == "False"


def test_a_container_detach_waits_for_the_pod_then_the_claim_is_free() -> None:
    status = active(volumeAttachments=[{"id": "data", "device": "/dev/vdb", "state": "attached"}])
    out = plan.follow_spec(server(status, volumes=[]), facts(), NOW)
    assert out.patch is not None
    assert out.patch["volumeAttachments"] == [
        {"id": "data", "device": "/dev/vdb", "state": "detaching", "pendingRestart": True}
    ]
    assert out.patch["volumesAttached"] == []
    assert volumes.held({}, out.patch) == {"data": True}  # still in the running Pod


def test_devices_are_given_in_order_skipping_those_taken() -> None:
    taken = [{"id": "a", "device": "/dev/vdb"}, {"id": "b", "device": "/dev/vdd"}]
    assert volumes.device_for(taken, None) == "/dev/vdc"  # type: ignore[arg-type]
    assert volumes.device_for(taken, "/dev/sdb") == "/dev/sdb"  # type: ignore[arg-type]


def test_delete_on_termination_names_the_claims_to_delete() -> None:
    status = {
        "volumeAttachments": [
            volumes.root_entry("root", UID),
            {"id": "keep", "deleteOnTermination": False},
            {"id": "scratch", "deleteOnTermination": True},
        ]
    }
    assert volumes.delete_on_termination(status) == ["scratch"]
    assert plan.released(server(status)).wake == ("ns/keep", "ns/root", "ns/scratch")


def test_a_new_server_boots_with_the_volumes_it_can_have_now() -> None:
    s = server(volumes=[{"claimName": "data"}, {"claimName": "missing"}, {"claimName": "taken"}])
    world = facts(claims={"data": ["ReadWriteOnce"], "taken": ["ReadWriteOnce"]}, holders={"taken": ["other"]})
    patch = build.accept(s, world, NOW).patch
    assert patch is not None
    assert attachments(patch) == [("data", "attached")]  # the first Pod carries it
    assert patch["volumesAttached"] == [{"id": "data", "deleteOnTermination": False}]
    # The others are said later, by follow_spec, with Nova's refusals.
    assert volumes.next_change(s.spec, patch) == (Action.ATTACH_VOLUME, "missing")


def test_a_container_attach_undone_before_the_pod_ever_had_it_is_simply_gone() -> None:
    status = active(volumeAttachments=[{"id": "data", "state": "attached", "pendingRestart": True}])
    out = plan.follow_spec(server(status, volumes=[]), facts(), NOW)
    assert out.patch is not None
    assert out.patch["volumeAttachments"] == []
    assert out.wake == ("ns/data",)


def test_an_attach_in_flight_resumes_from_the_status_alone_after_a_restart() -> None:
    s = server(vm_status(), volumes=[{"claimName": "data"}])
    begun = written(s, plan.follow_spec(s, facts(), NOW).patch)
    flight = tasks.in_flight(begun.status)
    assert flight is not None
    assert (flight.action, flight.task, flight.goal) == (Action.ATTACH_VOLUME, "attaching", tasks.Goal.RUNNING)
    assert plan.phase(begun) is plan.Phase.CONVERGE
