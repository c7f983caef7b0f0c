"""A server's disks, pure: a resize never shrinks a kubevirt root disk (Nova's messages), and a
larger flavor disk grows the root disk's claim, recorded on its DataVolume."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubenova.backends import disks
from kubenova.nova.actions import Action, ActionRefused
from kubenova.servers import plan, storage
from tests.unit.backends.test_root_disk_rendering import SERVER
from tests.unit.servers.fakes import NOW, World, server

ROOTED = {"backend": "kubevirt", "imageSource": {"rootDisk": "s1-root"}, "flavor": {"disk": 5, "ephemeral": 1}}


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ({"disk": 4, "ephemeral": 1}, "Resize error: Unable to resize disk down."),
        ({"disk": 10, "ephemeral": 0}, "Resize error: Unable to resize disk down."),
        ({"disk": 0, "ephemeral": 1}, "Resize to zero disk flavor is not allowed."),
    ],
)
def test_a_resize_down_is_refused_with_novas_message(new: dict[str, Any], message: str) -> None:
    refused = storage.resize_problem(ROOTED, new)
    assert refused is not None
    assert (refused.code, refused.message) == (400, message)


@pytest.mark.parametrize(
    "status",
    [
        ROOTED | {"backend": "container"},
        ROOTED | {"imageSource": {"source": {}}},  # a containerDisk: nothing persistent to shrink
    ],
)
def test_only_a_persistent_root_disk_is_checked(status: dict[str, Any]) -> None:
    assert storage.resize_problem(status, {"disk": 1}) is None
    assert storage.resize_problem(ROOTED, {"disk": 5, "ephemeral": 1}) is None


def test_the_planner_refuses_a_resize_down_before_it_starts() -> None:
    world = World()
    world.flavors["m1.tiny"] = {"vcpus": 1, "ram": 1024, "disk": 1}
    status = ROOTED | {"vmState": "active", "flavor": {"disk": 5}, "actions": []}
    with pytest.raises(ActionRefused, match="Unable to resize disk down"):
        plan.begin(server(status, flavor="m1.tiny"), world.facts(), Action.RESIZE, NOW)


def dv(size: str, annotated: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web-root"}
    if annotated:
        meta["annotations"] = {disks.SIZE_ANNOTATION: annotated}
    return {"metadata": meta, "spec": {"storage": {"resources": {"requests": {"storage": size}}}}}


def test_a_larger_flavor_disk_grows_the_root_disk_and_a_smaller_one_never_shrinks_it() -> None:
    s = SERVER  # flavor disk 20
    assert disks.grown_gib(s, dv("10Gi")) == 20
    assert disks.grown_gib(s, dv("10Gi", annotated="20Gi")) is None
    assert disks.grown_gib(s, dv("30Gi")) is None
    smaller = dataclasses.replace(s, flavor=dataclasses.replace(s.flavor, disk=5))
    assert disks.grown_gib(smaller, dv("20Gi")) is None
    assert disks.recorded_gib(dv("junk")) == 0


LOCAL = {"name": "local", "volumeBindingMode": "WaitForFirstConsumer", "provisioner": "rancher.io/local-path"}
WFFC = {"name": "zonal", "volumeBindingMode": "WaitForFirstConsumer", "provisioner": "ebs.csi.aws.com"}
NETWORK = {"name": "ceph", "volumeBindingMode": "Immediate", "provisioner": "rbd.csi.ceph.com"}


def facts_with(claims: dict[str, dict[str, Any]], **classes: dict[str, Any]) -> Any:
    world = World(storage_classes=dict(classes))
    return dataclasses.replace(world.facts(), claim=lambda ns, name: claims.get(name))


def attached(**status: Any) -> Any:
    base = {"vmState": "active", "backend": "kubevirt", "volumeAttachments": [{"id": "data", "state": "attached"}]}
    return server(base | status)


@pytest.mark.parametrize(("cls", "why"), [(LOCAL, "makes node-local volumes"), (WFFC, "WaitForFirstConsumer")])
def test_a_readwriteonce_volume_on_a_node_bound_class_cannot_follow(cls: dict[str, Any], why: str) -> None:
    facts = facts_with(
        {"data": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls["name"]}}, **{cls["name"]: cls}
    )
    message = storage.cannot_follow(attached(), facts)
    assert message is not None
    assert message.startswith(f"Volume data is a ReadWriteOnce claim on storage class {cls['name']}")
    assert why in message
    assert message.endswith("it cannot follow the server to another host.")


@pytest.mark.parametrize(
    ("claim", "classes"),
    [
        ({"accessModes": ["ReadWriteMany"], "storageClassName": "local"}, {"local": LOCAL}),
        ({"accessModes": ["ReadWriteOnce"], "storageClassName": "ceph"}, {"ceph": NETWORK}),
        ({"accessModes": ["ReadWriteOnce"]}, {"": NETWORK}),  # the default class
        ({"accessModes": ["ReadWriteOnce"], "storageClassName": "unknown"}, {}),
    ],
)
def test_a_volume_that_can_follow(claim: dict[str, Any], classes: dict[str, Any]) -> None:
    assert storage.cannot_follow(attached(), facts_with({"data": claim}, **classes)) is None


def test_a_boot_volume_is_checked_too() -> None:
    facts = facts_with({"boot": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local"}}, local=LOCAL)
    s = server({"vmState": "active", "backend": "kubevirt"}, bootVolume={"claimName": "boot"})
    assert "Volume boot is a ReadWriteOnce claim" in (storage.cannot_follow(s, facts) or "")


def test_the_pinned_host_is_the_claims_selected_node() -> None:
    claims = {"data": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local", "selectedNode": "h2"}}
    assert storage.pinned_host(attached(), facts_with(claims, local=LOCAL)) == "h2"
    assert storage.pinned_host(attached(), facts_with({})) is None


def offloaded(claims: dict[str, dict[str, Any]]) -> tuple[Any, Any]:
    status = {
        "vmState": "shelved_offloaded",
        "backend": "kubevirt",
        "flavor": {"originalName": "m1.small", "vcpus": 1, "ram": 1024, "disk": 5, "ephemeral": 0, "swap": 0},
        "volumeAttachments": [{"id": "data", "state": "attached"}],
        "actions": [],
    }
    return server(status, state="active"), facts_with(claims, local=LOCAL)


def test_unshelve_goes_back_to_the_node_a_bound_volume_is_on() -> None:
    s, facts = offloaded(
        {"data": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local", "selectedNode": "h2"}}
    )
    patch = plan.begin(s, facts, Action.UNSHELVE, NOW).patch
    assert patch is not None
    assert patch["host"] == "h2"
    with pytest.raises(ActionRefused, match="It can be unshelved only on h2"):
        plan.begin(s, facts, Action.UNSHELVE, NOW, host="h1")


def test_unshelve_refuses_when_no_claim_says_where_a_bound_volume_is() -> None:
    s, facts = offloaded({"data": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local"}})
    with pytest.raises(ActionRefused) as refused:
        plan.begin(s, facts, Action.UNSHELVE, NOW)
    assert refused.value.code == 409
    assert "No claim records the node it is on, so it cannot be unshelved." in refused.value.message


@pytest.mark.parametrize("action", [Action.MIGRATE, Action.EVACUATE])
def test_a_move_with_a_bound_volume_is_refused(action: Action) -> None:
    facts = facts_with({"data": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local"}}, local=LOCAL)
    world_facts = dataclasses.replace(facts, host_up=lambda host: False)
    s = attached(flavor={"originalName": "m1.small", "vcpus": 1, "ram": 1024, "disk": 5}, actions=[], host="h1")
    with pytest.raises(ActionRefused) as refused:
        plan.begin(s, world_facts, action, NOW)
    assert refused.value.code == 409
    assert "Volume data is a ReadWriteOnce claim on storage class local" in refused.value.message
