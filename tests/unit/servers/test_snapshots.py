"""createImage (Nova's snapshot), pure: accepted from Nova's vm_states only, refused by the
container backend with Nova's 501 and for a server with no persistent disk; the Image and the
CDI clone it renders (the clone valid against CDI's schema); the task states the clone's phase
gives, and the Image's Glance status (queued, saving, active, killed)."""

from __future__ import annotations

from typing import Any

import pytest

from kubenova import images
from kubenova.nova.actions import Action, ActionRefused
from kubenova.servers import plan, snapshots
from kubenova.servers.view import Server
from tests.unit.backends.test_root_disk_rendering import assert_valid_dv
from tests.unit.servers.fakes import NOW, UID, World, server

BOOTED = {
    "source": {"containerDisk": "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"},
    "minDisk": 1,
    "minRam": 64,
    "properties": {"os_distro": "cirros", "hw_disk_bus": "scsi"},
    "rootDisk": "s1-root",
    "storageClass": "fast",
}
SPEC = {"action": "createImage", "imageName": "snap1", "imageMetadata": {"purpose": "backup"}}


def running(vm_state: str = "active", backend: str = "kubevirt", **more: Any) -> Server:
    status = {
        "vmState": vm_state,
        "backend": backend,
        "image": "cirros",
        "imageSource": BOOTED,
        "flavor": {"disk": 5},
        "actions": [],
        **more,
    }
    return server(status, image="cirros", backend=backend)


def begun(s: Server, world: World | None = None) -> Server:
    outcome = plan.begin(s, (world or World()).facts(), Action.CREATE_IMAGE, NOW, server_action="sa1", image=SPEC)
    assert outcome.patch is not None
    return s.with_status(outcome.patch)


@pytest.mark.parametrize("vm_state", ["active", "stopped", "paused", "suspended"])
def test_create_image_is_accepted_in_novas_vm_states(vm_state: str) -> None:
    s = begun(running(vm_state))
    assert s.status["taskState"] == "image_snapshot_pending"
    assert s.status["vmState"] == vm_state
    assert s.status["snapshot"] == {
        "imageName": "snap1",
        "metadata": {"purpose": "backup"},
        "sourceClaim": "s1-root",
        "dataVolume": "snap1.snapshot",
    }
    assert snapshots.taking(s.status)


@pytest.mark.parametrize("vm_state", ["shelved", "shelved_offloaded", "rescued", "error", "resized"])
def test_create_image_is_refused_elsewhere_with_novas_409(vm_state: str) -> None:
    with pytest.raises(ActionRefused) as refused:
        begun(running(vm_state))
    assert refused.value.code == 409
    assert refused.value.message == f"Cannot 'createImage' instance {UID} while it is in vm_state {vm_state}"


def test_the_container_backend_refuses_with_novas_501() -> None:
    with pytest.raises(ActionRefused) as refused:
        begun(running(backend="container"))
    assert refused.value.code == 501
    assert refused.value.message.startswith("The requested functionality is not supported")


def test_a_taken_image_name_and_a_server_without_a_disk_are_refused() -> None:
    world = World(images={"snap1": {"spec": {}, "status": {}}})
    with pytest.raises(ActionRefused, match="Image snap1 already exists"):
        begun(running(), world)
    with pytest.raises(ActionRefused, match="no persistent root disk"):
        begun(running(imageSource=None))


def test_the_image_and_its_clone() -> None:
    s = begun(running())
    body = snapshots.image_body(s, {"status": {"id": "base-uid"}})
    assert body["metadata"]["labels"][images.SNAPSHOT_LABEL] == UID
    spec = body["spec"]
    assert spec["source"] == {"pvc": {"namespace": "ns", "name": "snap1.snapshot"}}
    assert (spec["visibility"], spec["owner"], spec["minDisk"], spec["minRam"]) == ("private", "ns", 1, 64)
    assert spec["properties"] == {
        "os_distro": "cirros",
        "hw_disk_bus": "scsi",
        "image_type": "snapshot",
        "instance_uuid": UID,
        "base_image_ref": "base-uid",
        "purpose": "backup",
    }
    made = body | {"metadata": body["metadata"] | {"uid": "img-uid"}}
    clone = snapshots.clone_body(s, made)
    assert_valid_dv(clone)
    assert clone["spec"]["source"] == {"pvc": {"namespace": "ns", "name": "s1-root"}}
    assert clone["spec"]["storage"] == {"resources": {"requests": {"storage": "5Gi"}}, "storageClassName": "fast"}
    assert clone["metadata"]["ownerReferences"][0]["uid"] == "img-uid"
    assert clone["metadata"]["ownerReferences"][0]["kind"] == "Image"


def dv(phase: str | None, message: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase} if phase else {}
    if message:
        status["conditions"] = [{"type": "Running", "status": "False", "reason": "Error", "message": message}]
    return {"metadata": {"name": "snap1.snapshot"}, "status": status}


def test_the_task_states_follow_the_clone_to_the_end() -> None:
    s = begun(running())
    image = snapshots.image_body(s, None)
    image["metadata"]["uid"] = "img-uid"
    seen = []
    for phase in ("Pending", "Pending", "CloneInProgress", "Succeeded"):
        outcome = snapshots.step(s, image, dv(phase), NOW)
        if outcome.patch is None:
            continue
        s = s.with_status(outcome.patch)
        seen.append(s.status["taskState"])
    assert seen == ["image_snapshot", "image_pending_upload", "image_uploading", None]
    assert s.status["vmState"] == "active"
    assert s.status["snapshot"] is None
    last = (s.status.get("actions") or [])[-1]
    assert (last["action"], last.get("result")) == ("createImage", "Success")
    assert outcome.settle is not None
    assert (outcome.settle.name, outcome.settle.error) == ("sa1", None)


def test_a_failed_clone_ends_the_task_with_the_fault() -> None:
    s = begun(running())
    image = snapshots.image_body(s, None)
    image["metadata"]["uid"] = "img-uid"
    s = s.with_status(snapshots.step(s, image, dv("Pending"), NOW).patch or {})
    outcome = snapshots.step(s, image, dv("Failed", "source claim is gone"), NOW)
    assert outcome.patch is not None
    assert outcome.patch["taskState"] is None
    assert outcome.patch["vmState"] == "active"
    assert outcome.patch["fault"]["message"] == "Snapshot snap1 failed: source claim is gone"
    assert outcome.settle is not None
    assert outcome.settle.error == "Snapshot snap1 failed: source claim is gone"


def test_an_image_of_that_name_that_is_not_ours_fails_the_snapshot() -> None:
    s = begun(running())
    other = {"metadata": {"name": "snap1", "uid": "x", "labels": {}}, "spec": {}}
    outcome = snapshots.step(s, other, None, NOW)
    assert outcome.patch is not None
    assert "already exists and is not this server's snapshot" in outcome.patch["fault"]["message"]


@pytest.mark.parametrize(
    ("phase", "glance"),
    [
        (None, "queued"),
        ("Pending", "queued"),
        ("CloneInProgress", "saving"),
        ("Succeeded", "active"),
        ("Failed", "killed"),
    ],
)
def test_a_snapshot_images_glance_status_follows_its_clone(phase: str | None, glance: str) -> None:
    spec = {"source": {"pvc": {"namespace": "ns", "name": "snap1.snapshot"}}}
    clone = dv(phase, "source claim is gone" if phase == "Failed" else None) if phase else None
    desired = images.desired_status(spec, {}, uid="u", generation=1, now=NOW, snapshot=True, clone=clone)
    assert desired["status"] == glance
    ready = desired["conditions"][0]
    assert ready["status"] == ("True" if glance == "active" else "False")
    if glance == "killed":
        assert ready["reason"] == "Killed"
        assert "source claim is gone" in ready["message"]


def test_an_image_that_is_not_a_snapshot_is_active_at_once() -> None:
    assert images.desired_status({"source": {}}, {}, uid="u", generation=1, now=NOW)["status"] == "active"


def test_the_image_label_is_one_name() -> None:
    from kubenova.backends import kubevirt

    assert images.IMAGE_LABEL == kubevirt.IMAGE_LABEL
