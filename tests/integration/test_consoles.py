"""Consoles on the real control plane: a server's status says how to reach its console; the
console output (`openstack console log show`, Nova's os-getConsoleOutput) of a container server
is its Pod's log and of a VM its virt-launcher Pod's guest-console-log, served by kwok as a
kubelet would (hack/devcluster/podlogs.py); KubeVirt's console and vnc subresources answer
through the aggregation layer (the stand-in virt-api); remote consoles get Nova's honest refusals."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client

from hack.devcluster import podlogs
from hack.devcluster.cluster import Cluster
from tests import kube as k
from tests import waiting
from tests.integration.test_compute_api import (  # noqa: F401 - fixtures
    FLAVOR,
    FLAVOR_VM,
    admin_token,
    api,
    clouds,
    connect,
    user_roles,
)

pytestmark = pytest.mark.integration
LOG = "".join(line + "\n" for line in podlogs.LINES)


def launcher_pod(vm: str, namespace: str, node: str) -> dict[str, Any]:
    """A Pod labelled and shaped as KubeVirt's virt-launcher Pod of ``vm`` (none runs here)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"virt-launcher-{vm}-x2k9p",
            "namespace": namespace,
            "labels": {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vm},
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "compute", "image": "quay.io/kubevirt/virt-launcher:v1.8.0"},
                {"name": "guest-console-log", "image": "quay.io/kubevirt/virt-launcher:v1.8.0"},
            ],
        },
    }


@pytest.mark.usefixtures("operator", "user_roles")
def test_console_output_of_a_container_server_is_its_pods_log(
    cluster: Cluster,
    kube: Client,
    namespace: str,
    clouds: dict[str, Any],  # noqa: F811
) -> None:
    cluster.apply([k.server("web", namespace, flavor=FLAVOR, image="nginx:1.27", backend="container")])
    st = k.Srv(kube, namespace, "web").wait("ACTIVE", timeout=60)
    assert st["console"]["type"] == "exec"
    log = next(a for a in st["console"]["access"] if a["protocol"] == "log")
    # The documented path, as `kubectl get --raw` reaches it.
    waiting.until(lambda: cluster.kubectl("get", "--raw", log["path"], check=False).stdout == LOG, what="pod log")
    conn = connect(clouds, "demo")
    server = conn.compute.find_server("web", ignore_missing=False)
    assert conn.compute.get_server_console_output(server, length=2)["output"] == "".join(LOG.splitlines(True)[-2:])
    assert conn.compute.get_server_console_output(server)["output"] == LOG
    refused = conn.compute.post(
        f"/servers/{server.id}/action", json={"os-getConsoleOutput": {"length": "ten"}}, raise_exc=False
    )
    assert refused.status_code == 400
    # No console to give a container: Nova's 400, naming kubectl exec; none before 2.6 (404).
    body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
    answer = conn.compute.post(f"/servers/{server.id}/remote-consoles", json=body, microversion="2.6", raise_exc=False)
    assert answer.status_code == 400
    assert "kubectl exec" in answer.json()["badRequest"]["message"]
    old = conn.compute.post(f"/servers/{server.id}/remote-consoles", json=body, microversion="2.5", raise_exc=False)
    assert old.status_code == 404


@pytest.mark.usefixtures("operator", "user_roles")
def test_a_vms_console_is_kubevirts_and_its_log_the_launchers_guest_console_log(
    cluster: Cluster,
    kube: Client,
    namespace: str,
    clouds: dict[str, Any],  # noqa: F811
) -> None:
    cluster.apply([k.server("vm", namespace, flavor=FLAVOR_VM, image="quay.io/containerdisks/fedora:41")])
    st = k.Srv(kube, namespace, "vm").wait("ACTIVE", timeout=60)
    access = {a["protocol"]: a for a in st["console"]["access"]}
    assert st["console"]["type"] == "serial"
    assert access["vnc"]["command"] == f"virtctl vnc vm -n {namespace}"
    # The subresources the status names are served (by the stand-in virt-api, as by KubeVirt's):
    # a plain GET is refused for not being a websocket upgrade, a VM that is not there is a 404.
    for protocol in ("serial", "vnc"):
        got = cluster.kubectl("get", "--raw", access[protocol]["path"], check=False)
        assert got.returncode != 0
        assert "not using the websocket protocol" in got.stderr, got.stderr
    missing = cluster.kubectl("get", "--raw", access["vnc"]["path"].replace("/vm/", "/gone/"), check=False)
    assert 'virtualmachineinstance.kubevirt.io "gone" not found' in missing.stderr

    conn = connect(clouds, "demo")
    server = conn.compute.find_server("vm", ignore_missing=False)
    no_launcher = conn.compute.post(f"/servers/{server.id}/action", json={"os-getConsoleOutput": {}}, raise_exc=False)
    assert no_launcher.status_code == 409
    cluster.apply([launcher_pod("vm", namespace, st["host"])])
    output = waiting.until(
        lambda: conn.compute.post(f"/servers/{server.id}/action", json={"os-getConsoleOutput": {"length": 1}},
                                  raise_exc=False).json().get("output"),
        what="the VM's console log",
    )  # fmt: skip
    assert output == LOG.splitlines(True)[-1]
    body = {"remote_console": {"protocol": "serial", "type": "serial"}}
    answer = conn.compute.post(f"/servers/{server.id}/remote-consoles", json=body, microversion="2.8", raise_exc=False)
    assert answer.status_code == 501
    assert f"virtctl console vm -n {namespace}" in answer.json()["notImplemented"]["message"]
