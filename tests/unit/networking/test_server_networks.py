"""A server's networks as each backend attaches them (:mod:`kubenova.backends.networks`): the
pod network by default and for ``auto``; no interface on a VM for ``none``; secondary networks
as KubeVirt Multus networks (bridge, or sriov for an SR-IOV attachment) and as Multus's
network-selection annotation on a Pod, with a fixed IP only where the attachment takes one.
Rendered VMs pass KubeVirt's published schema, annotations Multus's selection format, and the
test's NetworkAttachmentDefinitions Multus's CRD schema."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kubenova.backends import container, kubevirt, networks
from kubenova.backends.workload import Flavor, PlacedServer
from tests.unit.backends.test_kubevirt_rendering import assert_valid

ROOT = Path(__file__).resolve().parents[3]
SERVER = PlacedServer(
    name="web", namespace="demo", uid="u1", flavor=Flavor("m1.small", 1, 512, 1), host="compute-0", image="img"
)


def nad(name: str, config: dict[str, Any] | None, namespace: str = "demo") -> dict[str, Any]:
    spec = {"config": json.dumps(config)} if config is not None else {}
    return {
        "apiVersion": networks.NAD_API_VERSION,
        "kind": networks.NAD_KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


BRIDGE = nad("storage", {"cniVersion": "1.0.0", "type": "bridge", "ipam": {"type": "whereabouts"}})
STATIC = nad(
    "fixed",
    {
        "cniVersion": "1.0.0",
        "plugins": [{"type": "macvlan", "capabilities": {"ips": True}, "ipam": {"type": "static"}}],
    },
)
SRIOV = nad("fast", {"cniVersion": "1.0.0", "type": "sriov", "vlan": 100}, namespace="infra")
NADS = {f"{n['metadata']['namespace']}/{n['metadata']['name']}": n for n in (BRIDGE, STATIC, SRIOV)}


@cache
def nad_schema() -> dict[str, Any]:
    crd = next(d for d in yaml.safe_load_all((ROOT / "hack/devcluster/fixtures/multus-crds.yaml").read_text()) if d)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@cache
def selection_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(
        json.loads((ROOT / "tests/fixtures/multus-network-selection.schema.json").read_text())
    )


@pytest.mark.parametrize("body", [BRIDGE, STATIC, SRIOV], ids=["bridge", "static", "sriov"])
def test_the_attachments_here_are_valid_for_multus_crd(body: dict[str, Any]) -> None:
    jsonschema.validate(body, nad_schema())


def placed(spec_networks: list[dict[str, Any]], backend: str = "kubevirt") -> PlacedServer:
    wanted = networks.requested(spec_networks, "demo")
    return dataclasses.replace(SERVER, networks=networks.resolve(wanted, NADS, backend=backend))


def test_left_out_and_auto_are_the_pod_network() -> None:
    for spec in ([], [{"network": "auto"}]):
        vm = kubevirt.render(placed(spec))["spec"]["template"]["spec"]
        assert vm["networks"] == [{"name": "default", "pod": {}}]
        assert vm["domain"]["devices"]["interfaces"] == [{"name": "default", "masquerade": {}}]
        assert (
            networks.SELECTION_ANNOTATION not in container.render(placed(spec, "container"))["metadata"]["annotations"]
        )


def test_none_gives_a_vm_no_interface_and_stops_kubevirt_adding_one() -> None:
    vm = kubevirt.render(placed([{"network": "none"}]))
    spec = vm["spec"]["template"]["spec"]
    assert spec["networks"] == []
    assert spec["domain"]["devices"]["interfaces"] == []
    assert spec["domain"]["devices"]["autoattachPodInterface"] is False
    assert_valid(vm)
    # A Pod keeps the pod network (Kubernetes gives every Pod one) and gets no selection.
    pod = container.render(placed([{"network": "none"}], "container"))
    assert networks.SELECTION_ANNOTATION not in pod["metadata"]["annotations"]


def test_secondary_networks_on_a_vm_are_multus_networks_bridged_or_sriov() -> None:
    vm = kubevirt.render(placed([{"network": "pod"}, {"network": "storage"}, {"network": "infra/fast"}]))
    spec = vm["spec"]["template"]["spec"]
    assert spec["networks"] == [
        {"name": "default", "pod": {}},
        {"name": "storage", "multus": {"networkName": "storage"}},
        {"name": "infra-fast", "multus": {"networkName": "infra/fast"}},
    ]
    assert spec["domain"]["devices"]["interfaces"] == [
        {"name": "default", "masquerade": {}},
        {"name": "storage", "bridge": {}},
        {"name": "infra-fast", "sriov": {}},
    ]
    assert "autoattachPodInterface" not in spec["domain"]["devices"]
    assert_valid(vm)


def test_a_vm_listing_only_secondary_networks_has_no_pod_interface() -> None:
    spec = kubevirt.render(placed([{"network": "storage", "interface": "sriov"}]))["spec"]["template"]["spec"]
    assert spec["networks"] == [{"name": "storage", "multus": {"networkName": "storage"}}]
    assert spec["domain"]["devices"]["interfaces"] == [{"name": "storage", "sriov": {}}]


def test_a_pod_gets_multus_selection_annotation_with_the_fixed_ip() -> None:
    pod = container.render(placed([{"network": "storage"}, {"network": "fixed", "fixedIp": "192.0.2.10"}], "container"))
    selection = json.loads(pod["metadata"]["annotations"][networks.SELECTION_ANNOTATION])
    assert selection == [
        {"name": "storage", "namespace": "demo", "interface": "net1"},
        {"name": "fixed", "namespace": "demo", "interface": "net2", "ips": ["192.0.2.10"]},
    ]
    errors = list(selection_validator().iter_errors(selection))
    assert not errors, errors


def test_the_selection_check_is_strict() -> None:
    assert list(selection_validator().iter_errors([{"name": "x", "ip": "1.2.3.4"}]))


@pytest.mark.parametrize(
    ("spec", "backend", "message"),
    [
        ([{"network": "missing"}], "container", "Network demo/missing could not be found"),
        ([{"network": "other/storage"}], "kubevirt", "Network other/storage could not be found"),
        ([{"network": "storage", "fixedIp": "10.0.0.1"}], "container", "does not allow a fixed IP"),
        ([{"network": "fixed", "fixedIp": "10.0.0.1"}], "kubevirt", "cannot be requested for a kubevirt server"),
    ],
)
def test_networks_that_cannot_be_given_are_faults_naming_them(
    spec: list[dict[str, Any]], backend: str, message: str
) -> None:
    with pytest.raises(networks.NetworkFault, match=message):
        placed(spec, backend)


def test_only_secondary_networks_need_resolving() -> None:
    assert networks.requested([{"network": "pod"}], "demo").resolved
    assert not networks.requested([{"network": "storage"}], "demo").resolved


def test_a_config_that_is_not_json_is_no_sriov_and_takes_no_ip() -> None:
    broken = {"spec": {"config": "{not json"}}
    assert networks.cni_config(broken) == {}
    assert not networks.is_sriov(networks.cni_config(broken))
