"""The planner and Images: a server booting an Image by name is checked as Nova checks it (at
create, rebuild and resize) and records what it booted; a plain reference still works."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubenova.nova.actions import Action, ActionRefused
from kubenova.scheduling.claims import Claim
from kubenova.servers import build, plan
from tests.unit.servers.fakes import NOW, World, server

CIRROS = {"containerDisk": "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"}


def image(**spec: Any) -> dict[str, Any]:
    return {"spec": {"source": CIRROS, "visibility": "public", **spec}, "status": {"status": "active"}}


def fault(world: World, **spec: Any) -> tuple[int, str]:
    patch = build.accept(server(**spec), world.facts(), NOW).patch
    assert patch is not None
    assert patch["vmState"] == "error"
    return patch["fault"]["code"], patch["fault"]["message"]


def test_a_server_booting_an_image_records_its_source_and_storage_class() -> None:
    world = World(images={"cirros": image(minDisk=1, properties={"os_distro": "cirros"})}, storage_class="fast")
    patch = build.accept(server(image="cirros", backend="kubevirt"), world.facts(), NOW).patch
    assert patch is not None
    assert patch["vmState"] == "building"
    assert patch["image"] == "cirros"
    assert patch["imageSource"] == {
        "source": CIRROS,
        "minDisk": 1,
        "minRam": 0,
        "properties": {"os_distro": "cirros"},
        "storageClass": "fast",
        "rootDisk": "s1-root",
    }


def test_the_flavors_storage_class_comes_before_the_operators() -> None:
    world = World(images={"cirros": image()}, storage_class="fast")
    world.flavors["m1.small"]["extraSpecs"] = {"kubenova:storage_class": "local"}
    patch = build.accept(server(image="cirros", backend="kubevirt"), world.facts(), NOW).patch
    assert patch is not None
    assert patch["imageSource"]["storageClass"] == "local"


def test_a_plain_reference_is_not_an_image() -> None:
    patch = build.accept(server(image="nginx:1.27"), World(images={"cirros": image()}).facts(), NOW).patch
    assert patch is not None
    assert patch["imageSource"] is None
    assert patch["vmState"] == "building"


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        (image(minDisk=20), "Flavor's disk is too small for requested image."),
        (image(minRam=4096), "Flavor's memory is too small for requested image."),
        (image(deactivated=True), "Image cirros is not active"),
        (image(visibility="private", owner="other"), "Can not find requested image"),
    ],
)
def test_novas_image_checks_are_the_servers_fault(img: dict[str, Any], expected: str) -> None:
    code, message = fault(World(images={"cirros": img}), image="cirros", backend="kubevirt")
    assert code == 400
    assert message.startswith(expected)


def test_the_container_backend_cannot_run_a_disk_image() -> None:
    code, message = fault(World(images={"cirros": image()}), image="cirros", backend="container")
    assert code == 400
    assert "container backend cannot run" in message


def active(world: World, **spec: Any) -> Any:
    """A server accepted and marked ACTIVE on its host, as the executor would leave it."""
    s = server(backend="kubevirt", **spec)
    patch = build.accept(s, world.facts(), NOW).patch
    assert patch is not None
    st = {**patch, "vmState": "active", "taskState": None, "status": "ACTIVE", "observedGeneration": 1}
    return server(st, backend="kubevirt", generation=2, **spec)


def test_a_rebuild_checks_the_new_image_and_records_it() -> None:
    world = World(images={"cirros": image(), "big": image(minDisk=50), "fedora": image(minDisk=2)})
    booted = active(world, image="cirros")
    rebuilt = server(dict(booted.status), backend="kubevirt", generation=3, image="big")
    with pytest.raises(ActionRefused) as refused:
        plan.begin(rebuilt, world.facts(), Action.REBUILD, NOW)
    assert refused.value.code == 400
    assert refused.value.message.startswith("Flavor's disk is too small for requested image.")
    ok = server(dict(booted.status), backend="kubevirt", generation=3, image="fedora")
    patch = plan.begin(ok, world.facts(), Action.REBUILD, NOW).patch
    assert patch is not None
    assert patch["image"] == "fedora"
    assert patch["imageSource"]["minDisk"] == 2
    request = patch["actions"][-1]["requestId"].removeprefix("req-")[:8]
    assert patch["imageSource"]["rootDisk"] == f"s1-root-{request}"
    assert patch["imageSource"]["previousRootDisk"] == "s1-root"


def test_a_resize_below_the_booted_images_min_disk_is_refused() -> None:
    world = World(images={"cirros": image(minDisk=8)})
    world.flavors["m1.tiny"] = {"vcpus": 1, "ram": 512, "disk": 1}
    booted = active(world, image="cirros", flavor="m1.large")
    resized = server(dict(booted.status), backend="kubevirt", generation=3, image="cirros", flavor="m1.tiny")
    with pytest.raises(ActionRefused) as refused:
        plan.begin(resized, world.facts(), Action.RESIZE, NOW)
    assert refused.value.code == 400
    assert "Flavor's disk is too small" in refused.value.message


LOCAL = {"name": "local", "volumeBindingMode": "WaitForFirstConsumer", "provisioner": "rancher.io/local-path"}
NETWORK = {"name": "ceph", "volumeBindingMode": "Immediate", "provisioner": "rbd.csi.ceph.com"}


@pytest.mark.parametrize("action", [Action.MIGRATE, Action.RESIZE])
def test_a_move_whose_root_disk_cannot_follow_is_refused_with_the_reason(action: Action) -> None:
    world = World(images={"cirros": image()}, storage_class="local", storage_classes={"local": LOCAL})
    booted = active(world, image="cirros")
    world.claims = {"ns/s1": Claim(booted.status["host"], 1, 1024, 5)}
    spec = {"flavor": "m1.large"} if action is Action.RESIZE else {}
    moving = server(dict(booted.status), backend="kubevirt", generation=3, image="cirros", **spec)
    if action is Action.RESIZE:
        world.hosts = [h for h in world.hosts if h.name == booted.status["host"]]
        world.hosts = [dataclasses.replace(world.hosts[0], memory_mb=1024 + 512)]  # no room for m1.large
    with pytest.raises(ActionRefused) as refused:
        plan.begin(moving, world.facts(), action, NOW)
    assert refused.value.code == 409
    assert "The root disk s1-root is on storage class local" in refused.value.message
    assert "cannot follow the server to another host" in refused.value.message


def test_a_network_storage_class_lets_the_disk_follow() -> None:
    world = World(images={"cirros": image()}, storage_class="ceph", storage_classes={"ceph": NETWORK})
    booted = active(world, image="cirros")
    world.claims = {"ns/s1": Claim(booted.status["host"], 1, 1024, 5)}
    moving = server(dict(booted.status), backend="kubevirt", generation=3, image="cirros")
    patch = plan.begin(moving, world.facts(), Action.MIGRATE, NOW).patch
    assert patch is not None
    assert patch["host"] != booted.status["host"]
