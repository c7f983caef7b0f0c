"""The root disk of a server that boots an Image: a CDI DataVolume valid against CDI's published
OpenAPI schema (an excerpt in tests/fixtures/cdi-datavolume-openapi.json, made strict as the
KubeVirt one is), sized by the flavor and the image's minDisk, referenced by the VM (valid against
KubeVirt's schema); flavor ephemeral and swap as emptyDisks; image properties in the domain."""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kubenova.backends import kubevirt
from kubenova.backends.workload import Flavor, PlacedServer
from tests.unit.backends.test_kubevirt_rendering import assert_valid

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "cdi-datavolume-openapi.json"
CIRROS = "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"
SERVER = PlacedServer(
    name="web",
    namespace="demo",
    uid="u1",
    flavor=Flavor("m1.small", vcpus=1, ram=1024, disk=20),
    host="compute-0",
    image="cirros",
    image_source={"source": {"containerDisk": CIRROS}, "minDisk": 1, "rootDisk": "web-root"},
)


@cache
def validator() -> jsonschema.Draft4Validator:
    definitions = copy.deepcopy(json.loads(FIXTURE.read_text())["definitions"])
    for schema in definitions.values():
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    return jsonschema.Draft4Validator({"$ref": "#/definitions/v1beta1.DataVolume", "definitions": definitions})


def assert_valid_dv(dv: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(dv), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def with_source(source: dict[str, Any], **more: Any) -> PlacedServer:
    return dataclasses.replace(SERVER, image_source={"source": source, **more})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"containerDisk": CIRROS}, {"registry": {"url": f"docker://{CIRROS}"}}),
        ({"registry": "docker://quay.io/containerdisks/fedora:41"}, {"registry": {"url": "docker://quay.io/containerdisks/fedora:41"}}),
        ({"http": "https://example.org/cirros.qcow2"}, {"http": {"url": "https://example.org/cirros.qcow2"}}),
        ({"pvc": {"namespace": "golden", "name": "fedora"}}, {"pvc": {"namespace": "golden", "name": "fedora"}}),
    ],
)  # fmt: skip
def test_each_image_source_is_a_valid_datavolume_source(source: dict[str, Any], expected: dict[str, Any]) -> None:
    dv = kubevirt.root_disk(with_source(source))
    assert dv is not None
    assert_valid_dv(dv)
    assert dv["spec"]["source"] == expected
    assert dv["metadata"]["ownerReferences"][0]["kind"] == "Server"


def test_the_root_disk_is_sized_by_the_flavor_never_below_min_disk_on_the_chosen_class() -> None:
    def size(server: PlacedServer) -> str:
        dv = kubevirt.root_disk(server)
        assert dv is not None
        return str(dv["spec"]["storage"]["resources"]["requests"]["storage"])

    assert size(SERVER) == "20Gi"
    tiny = dataclasses.replace(
        SERVER, flavor=Flavor("zero", 1, 512, 0), image_source={"source": {"http": "https://x.org/a"}}
    )
    assert size(tiny) == f"{kubevirt.DEFAULT_ROOT_DISK_GIB}Gi"
    assert size(dataclasses.replace(tiny, image_source={"source": {"containerDisk": CIRROS}, "minDisk": 3})) == "3Gi"
    dv = kubevirt.root_disk(with_source({"containerDisk": CIRROS}, storageClass="fast"))
    assert dv is not None
    assert dv["spec"]["storage"]["storageClassName"] == "fast"


def test_the_vm_boots_the_datavolume_and_stays_valid() -> None:
    vm = kubevirt.render(SERVER)
    assert_valid(vm)
    volumes = vm["spec"]["template"]["spec"]["volumes"]
    assert volumes[0] == {"name": "root", "dataVolume": {"name": "web-root"}}
    assert "dataVolumeTemplates" not in vm["spec"]  # the operator owns the disk, not the VM


def test_a_plain_reference_and_a_boot_volume_have_no_datavolume() -> None:
    plain = dataclasses.replace(SERVER, image="quay.io/containerdisks/fedora:41", image_source=None)
    assert kubevirt.root_disk(plain) is None
    assert kubevirt.render(plain)["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]
    assert kubevirt.root_disk(dataclasses.replace(SERVER, boot_volume="db-root")) is None


def test_flavor_ephemeral_and_swap_are_empty_disks() -> None:
    server = dataclasses.replace(SERVER, flavor=Flavor("eph", 1, 1024, 10, ephemeral=5, swap=512))
    vm = kubevirt.render(server)
    assert_valid(vm)
    volumes = {v["name"]: v for v in vm["spec"]["template"]["spec"]["volumes"]}
    assert volumes["ephemeral0"] == {"name": "ephemeral0", "emptyDisk": {"capacity": "5Gi"}}
    assert volumes["swap"] == {"name": "swap", "emptyDisk": {"capacity": "512Mi"}}
    disks = [d["name"] for d in vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"]]
    assert {"ephemeral0", "swap"} <= set(disks)


def test_image_properties_shape_the_domain() -> None:
    props = {
        "hw_firmware_type": "uefi",
        "hw_machine_type": "q35",
        "hw_disk_bus": "sata",
        "hw_vif_model": "e1000e",
        "os_distro": "fedora",
        "os_type": "linux",
    }
    vm = kubevirt.render(with_source({"containerDisk": CIRROS}, properties=props))
    assert_valid(vm)
    domain = vm["spec"]["template"]["spec"]["domain"]
    assert domain["firmware"] == {"bootloader": {"efi": {"secureBoot": False}}}
    assert domain["machine"] == {"type": "q35"}
    assert domain["devices"]["disks"][0]["disk"] == {"bus": "sata"}
    assert domain["devices"]["interfaces"][0]["model"] == "e1000e"
    assert vm["metadata"]["labels"]["compute.kubenova.io/os-distro"] == "fedora"
    assert vm["metadata"]["labels"]["compute.kubenova.io/os-type"] == "linux"


def test_unknown_property_values_are_left_to_kubevirts_defaults() -> None:
    vm = kubevirt.render(with_source({"containerDisk": CIRROS}, properties={"hw_disk_bus": "ide", "os_distro": "a b"}))
    assert_valid(vm)
    assert vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["disk"] == {"bus": "virtio"}
    assert "compute.kubenova.io/os-distro" not in vm["metadata"]["labels"]
