"""A kubevirt server's addresses come from its VirtualMachineInstance, which the dev cluster's
simulated virt-controller keeps while the VM runs (hack/devcluster/virtcontroller.py): shown in
the Server's status and the Compute API's view after ACTIVE, kept across a cold migration (the
instance made again on the new host), and the instance gone while the server is stopped."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client

from hack.devcluster import instances
from hack.devcluster.cluster import Cluster
from kubenova.compute_api import microversions, server_views
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator", "flavors")]
IMAGE = "quay.io/containerdisks/fedora:40"


@pytest.fixture(scope="module")
def flavors(module_made: Made) -> None:
    module_made.apply([k.flavor("addr.small", vcpus=1, ram=512, disk=1)])


def instance(kube: Client, srv: k.Srv) -> dict[str, Any]:
    return k.get(kube, "virtualmachineinstance", srv.name, srv.namespace)


def addressed(srv: k.Srv, node: str) -> dict[str, Any]:
    """Wait until the server is ACTIVE with the addresses of its instance on ``node``."""

    def ready() -> dict[str, Any] | None:
        vmi = instance(srv.kube, srv)
        s = srv.status
        if (vmi.get("status") or {}).get("nodeName") != node or s.get("status") != "ACTIVE" or s.get("taskState"):
            return None
        return s if s.get("addresses") else None

    return waiting.until(ready, what=f"{srv.name} ACTIVE with addresses on {node}")


def test_a_vm_shows_its_instances_addresses_after_active_and_after_a_cold_migration(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    cluster.apply([k.server("web", namespace, flavor="addr.small", image=IMAGE, backend="kubevirt")])
    srv = k.Srv(kube, namespace, "web")
    host = srv.wait("ACTIVE")["host"]
    s = addressed(srv, host)
    vm = k.get(kube, "virtualmachine", "web", namespace)
    iface = instances.interfaces(vm)[0]
    expected = [
        {"network": "pod", "addr": ip, "version": 6 if ":" in ip else 4, "type": "fixed", "macAddr": iface["mac"]}
        for ip in iface["ipAddresses"]
    ]
    assert s["addresses"] == expected
    # The instance is virt-controller's: the VM's template labels, owned by the VM, on its host.
    vmi = instance(kube, srv)
    assert vmi["metadata"]["labels"]["compute.kubenova.io/server"] == "web"
    assert vmi["metadata"]["ownerReferences"][0]["uid"] == vm["metadata"]["uid"]
    assert vmi["status"]["phase"] == "Running"
    # Nova's shape in the Compute API's view.
    view = server_views.server_view(k.get(kube, "server", "web", namespace), "http://x", microversions.MAX)
    assert view["addresses"] == {
        "pod": [
            {
                "addr": ip,
                "version": 6 if ":" in ip else 4,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": iface["mac"],
            }
            for ip in iface["ipAddresses"]
        ]
    }

    result = srv.act("migrate")
    assert result["phase"] == "Succeeded", result
    moved = srv.wait("VERIFY_RESIZE")["host"]
    assert moved != host
    srv.act("confirmResize")
    s = addressed(srv, moved)
    assert s["addresses"] == expected  # a fixed IP stays the server's across the move

    srv.declare(state="stopped")
    s = srv.wait("SHUTOFF")
    assert s["addresses"] == []
    k.wait_gone(kube, "virtualmachineinstance", "web", namespace)
