"""Image properties on the real control plane: hw_cpu_* choose the VM's CPU topology within the
flavor's hw:cpu_max_* limits, and one that cannot be given is the server's fault in Nova's words."""

from __future__ import annotations

import pytest

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests.integration.conftest import Made
from tests.integration.test_images import API, image, server, wait_server

pytestmark = pytest.mark.integration


def test_an_images_cpu_topology_shapes_the_vm_and_an_impossible_one_is_the_servers_fault(
    made: Made, cluster: Cluster, operator: Operator, namespace: str
) -> None:
    flavor = {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "img.quad"}}
    flavor["spec"] = {"vcpus": 4, "ram": 256, "disk": 2, "extraSpecs": {"hw:cpu_max_sockets": "2"}}
    made.apply(
        [
            flavor,
            image(
                "it-topology", properties={"hw_cpu_sockets": "2", "hw_cpu_threads": "2", "hw_qemu_guest_agent": "yes"}
            ),
            image("it-topology-bad", properties={"hw_cpu_sockets": "4"}),
        ]
    )
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "image/it-topology", "image/it-topology-bad")
    made.apply(
        [
            server("topo", namespace, flavor="img.quad", image="it-topology", backend="kubevirt"),
            server("topo-bad", namespace, flavor="img.quad", image="it-topology-bad", backend="kubevirt"),
        ]
    )
    wait_server(cluster, "topo", namespace, "ACTIVE")
    vm = cluster.get_json("virtualmachine", "topo", "-n", namespace)
    assert vm["spec"]["template"]["spec"]["domain"]["cpu"] == {"sockets": 2, "cores": 1, "threads": 2}
    bad = wait_server(cluster, "topo-bad", namespace, "ERROR")
    assert bad["fault"]["code"] == 400
    assert bad["fault"]["message"] == (
        "Image vCPU topology (sockets=4, cores=-1, threads=-1) exceeds the limits of the flavor or image "
        "(sockets=2, cores=65536, threads=65536)"
    )
