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
