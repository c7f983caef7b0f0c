"""Rendered VirtualMachines are accepted by KubeVirt's own published OpenAPI schema (from the
``kubevirt.io/kubevirt`` Go module, made strict so a misspelt field fails here rather than being
pruned silently by a real cluster), and carry the flavor, image, host and keys."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema
import pytest

from hack.devcluster import building
from kubenova.backends import kubevirt
from kubenova.backends.workload import META_DATA_ANNOTATION, Flavor, PlacedServer

SMALL = Flavor("m1.small", vcpus=2, ram=2048, disk=20)
SERVER = PlacedServer(
    name="web",
    namespace="demo",
    uid="0b7e-uid",
    flavor=SMALL,
    host="compute-1",
    image="quay.io/containerdisks/fedora:40",
    key_name="bob",
    public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob",
    metadata={"role": "web"},
    availability_zone="az1",
)


@cache
def validator() -> jsonschema.Draft4Validator:
    document = json.loads(building.kubevirt_openapi().read_text())
    definitions = copy.deepcopy(document["definitions"])
    for schema in definitions.values():
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    return jsonschema.Draft4Validator({"$ref": "#/definitions/v1.VirtualMachine", "definitions": definitions})


def assert_valid(vm: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(vm), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "server",
    [
        SERVER,
        PlacedServer(name="db", namespace="demo", uid="u2", flavor=SMALL, host="compute-0", boot_volume="db-root"),
        PlacedServer(
            name="pinned",
            namespace="demo",
            uid="u3",
            host="compute-2",
            image="quay.io/containerdisks/ubuntu:24.04",
            flavor=Flavor("cpu.dedicated", 4, 8192, 40, extra_specs={"hw:cpu_policy": "dedicated"}),
            user_data_secret="pinned-user-data",
            running=False,
        ),
        PlacedServer(
            name="db",
            namespace="demo",
            uid="u4",
            flavor=SMALL,
            host="compute-0",
            boot_volume="db-root",
            volumes=("data", "logs.archive"),
        ),
    ],
    ids=["containerdisk-with-key", "boot-volume", "dedicated-stopped-with-user-data", "attached-volumes"],
)
def test_rendered_vms_are_valid_kubevirt(server: PlacedServer) -> None:
    assert_valid(kubevirt.render(server, access_secret="web-access" if server.public_key else None))


def test_the_schema_check_is_strict() -> None:
    vm = kubevirt.render(SERVER)
    vm["spec"]["template"]["spec"]["domain"]["cpuz"] = {}
    with pytest.raises(AssertionError, match="cpuz"):
        assert_valid(vm)


def test_flavor_host_image_and_power_are_rendered() -> None:
    vm = kubevirt.render(SERVER, access_secret="web-access")
    spec = vm["spec"]["template"]["spec"]
    assert vm["spec"]["runStrategy"] == "Always"
    assert spec["domain"]["cpu"]["cores"] == 2
    assert spec["domain"]["memory"]["guest"] == "2048Mi"
    assert spec["nodeSelector"] == {"kubernetes.io/hostname": "compute-1"}
    assert {"name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}} in spec["volumes"]
    assert spec["accessCredentials"][0]["sshPublicKey"]["propagationMethod"] == {"configDrive": {}}
    assert vm["metadata"]["ownerReferences"][0]["uid"] == "0b7e-uid"
    meta = json.loads(vm["spec"]["template"]["metadata"]["annotations"][META_DATA_ANNOTATION])
    assert meta["uuid"] == "0b7e-uid"
    assert meta["availability_zone"] == "az1"
    assert meta["public_keys"] == {"bob": SERVER.public_key}
    assert meta["meta"] == {"role": "web"}
    assert kubevirt.render(PlacedServer(**{**SERVER.__dict__, "running": False}))["spec"]["runStrategy"] == "Halted"


@pytest.mark.parametrize(
    ("printable", "ready", "power", "is_ready", "failure"),
    [
        ("Running", True, "RUNNING", True, None),
        ("Starting", False, "NOSTATE", False, None),
        ("Stopped", False, "SHUTDOWN", False, None),
        ("Paused", False, "PAUSED", False, None),
        ("ErrImagePull", False, "NOSTATE", False, "ErrImagePull"),
        ("ErrorUnschedulable", False, "NOSTATE", False, None),  # transient: not a fault
    ],
)
def test_vm_status_maps_to_nova_power_state(
    printable: str, ready: bool, power: str, is_ready: bool, failure: str | None
) -> None:
    seen = kubevirt.observe({"status": {"printableStatus": printable, "ready": ready}})
    assert (seen.power, seen.ready, seen.failure) == (power, is_ready, failure)


def test_addresses_come_from_the_vmi() -> None:
    vmi = {"status": {"nodeName": "compute-1", "interfaces": [{"ipAddress": "10.0.0.5", "mac": "02:00:00:00:00:01"}]}}
    seen = kubevirt.observe({"status": {"printableStatus": "Running", "ready": True}}, vmi)
    assert seen.host == "compute-1"
    assert [(a.network, a.addr, a.mac) for a in seen.addresses] == [("default", "10.0.0.5", "02:00:00:00:00:01")]


def test_a_missing_vm_is_reported_as_such() -> None:
    assert not kubevirt.observe(None).exists


def test_attached_volumes_are_hotpluggable_claims_on_scsi_disks_as_addvolume_makes_them() -> None:
    vm = kubevirt.render(
        PlacedServer(
            name="db", namespace="demo", uid="u", flavor=SMALL, host="h", image="i", volumes=("data", "logs.archive")
        )
    )
    spec = vm["spec"]["template"]["spec"]
    hot = [v for v in spec["volumes"] if v.get("persistentVolumeClaim")]
    assert [v["persistentVolumeClaim"] for v in hot] == [
        {"claimName": "data", "hotpluggable": True},
        {"claimName": "logs.archive", "hotpluggable": True},
    ]
    names = [v["name"] for v in hot]
    assert names[0] == "vol-data"
    assert names[1].startswith("vol-logs-archive-")  # a claim name with a dot is no DNS label
    disks = {d["name"]: d for d in spec["domain"]["devices"]["disks"]}
    assert all(disks[n]["disk"] == {"bus": "scsi"} for n in names)
    assert kubevirt.observe(vm).volumes == frozenset({"data", "logs.archive"})
