"""The local control plane is real and behaves like a cluster: simulated compute nodes are Ready
with their capacity, Pods bound to them run with an IP, and KubeVirt VirtualMachines move
through their states as virt-controller would move them, and pause through KubeVirt's subresource
API (a fake virt-api behind the real aggregation layer)."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from hack.devcluster.cluster import Cluster
from hack.devcluster.routing import is_loopback
from kubenova import labels
from tests import waiting

pytestmark = pytest.mark.integration


def test_compute_nodes_are_ready_with_capacity_zone_and_compute_label(cluster: Cluster) -> None:
    nodes = cluster.get_json("nodes", "-l", f"{labels.COMPUTE_HOST}=true")["items"]
    assert len(nodes) >= 3
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True"
        assert node["status"]["capacity"]["cpu"] == "32"
        assert node["status"]["capacity"]["memory"] == "128Gi"
        assert "topology.kubernetes.io/zone" in node["metadata"]["labels"]


def test_the_api_server_reports_its_real_version(cluster: Cluster) -> None:
    version = json.loads(cluster.raw_get("/version"))
    assert version["gitVersion"].startswith("v1.36.")


def test_a_pod_bound_to_a_node_runs_with_an_ip(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": namespace},
                "spec": {"nodeName": "compute-0", "containers": [{"name": "c", "image": "busybox"}]},
            }
        ]
    )
    pod = waiting.until(
        lambda: (p := cluster.get_json("pod", "p", "-n", namespace))["status"].get("podIP") and p,
        what="the pod to get an IP",
    )
    assert pod["status"]["phase"] == "Running"


def test_a_virtual_machine_starts_and_stops(cluster: Cluster, namespace: str) -> None:
    vm = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm", "namespace": namespace},
        "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}},
    }
    cluster.apply([vm])

    def printable() -> str:
        return str(cluster.get_json("vm", "vm", "-n", namespace).get("status", {}).get("printableStatus", ""))

    waiting.until(lambda: printable() == "Running", what="the VM to run")
    cluster.kubectl("patch", "vm", "vm", "-n", namespace, "--type=merge", "-p", '{"spec":{"runStrategy":"Halted"}}')
    waiting.until(lambda: printable() == "Stopped", what="the VM to stop")


SUBRESOURCES = "/apis/subresources.kubevirt.io/v1"


def test_kubevirts_subresource_api_is_an_available_aggregated_api(cluster: Cluster) -> None:
    apiservice = cluster.get_json("apiservice", "v1.subresources.kubevirt.io")
    available = next(c for c in apiservice["status"]["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("True", "Passed"), available
    assert apiservice["spec"]["service"]["namespace"] == "kubevirt"
    assert apiservice["spec"]["service"]["name"] == "virt-api"
    resources = json.loads(cluster.kubectl("get", "--raw", SUBRESOURCES).stdout)["resources"]
    assert {r["name"] for r in resources} >= {
        f"virtualmachineinstances/{a}" for a in ("pause", "unpause", "softreboot")
    }


def test_a_virtual_machine_pauses_through_the_subresource_api_as_kubevirts_does(
    cluster: Cluster, namespace: str
) -> None:
    vm = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm", "namespace": namespace},
        "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}},
    }
    cluster.apply([vm])

    def status() -> dict[str, Any]:
        s: dict[str, Any] = cluster.get_json("vm", "vm", "-n", namespace).get("status", {})
        return s

    def put(action: str, name: str = "vm") -> subprocess.CompletedProcess[str]:
        # A PUT, as virtctl makes it (kubectl create --raw would POST).
        path = f"{SUBRESOURCES}/namespaces/{namespace}/virtualmachineinstances/{name}/{action}"
        return cluster.kubectl("replace", "--raw", path, "-f", "-", input="{}", check=False)

    waiting.until(lambda: status().get("printableStatus") == "Running", what="the VM to run")
    assert put("softreboot").returncode == 0

    paused_call = put("pause")
    assert paused_call.returncode == 0, paused_call.stderr
    s = status()
    paused = next(c for c in s["conditions"] if c["type"] == "Paused")
    assert (s["printableStatus"], s["ready"]) == ("Paused", False)
    assert (paused["status"], paused["reason"]) == ("True", "PausedByUser")
    again = put("pause")
    assert again.returncode != 0
    assert "VMI is already paused" in again.stderr  # KubeVirt's 409
    assert "VMI is paused" in put("softreboot").stderr

    assert put("unpause").returncode == 0
    s = status()
    assert (s["printableStatus"], s["ready"]) == ("Running", True)
    assert not any(c["type"] == "Paused" for c in s["conditions"])
    assert "VMI is not paused" in put("unpause").stderr
    assert "not found" in put("pause", "nope").stderr

    cluster.kubectl("patch", "vm", "vm", "-n", namespace, "--type=merge", "-p", '{"spec":{"runStrategy":"Halted"}}')
    waiting.until(lambda: status().get("printableStatus") == "Stopped", what="the VM to stop")
    assert "VMI is not running" in put("pause").stderr


def test_kube_apiserver_authorizes_a_subresource_call_before_proxying_it(cluster: Cluster, namespace: str) -> None:
    """The RBAC a KubeVirt client needs: update on virtualmachineinstances/pause in subresources.kubevirt.io."""
    user = f"system:serviceaccount:{namespace}:default"
    path = f"{SUBRESOURCES}/namespaces/{namespace}/virtualmachineinstances/absent/pause"

    def put() -> subprocess.CompletedProcess[str]:
        return cluster.kubectl("replace", "--raw", path, "-f", "-", f"--as={user}", input="{}", check=False)

    refused = put()
    assert "forbidden" in refused.stderr.lower(), refused.stderr
    assert 'cannot update resource "virtualmachineinstances/pause" in API group "subresources.kubevirt.io"' in (
        refused.stderr
    )
    # As a manifest: kubectl create role looks the resource up in discovery, which lists only
    # the subresources (as real KubeVirt's does).
    rule = {"apiGroups": ["subresources.kubevirt.io"], "resources": ["virtualmachineinstances/pause"],
            "verbs": ["update"]}  # fmt: skip
    cluster.apply(
        [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": "pauser", "namespace": namespace}, "rules": [rule]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "pauser", "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pauser"},
             "subjects": [{"kind": "User", "name": user}]},
        ]
    )  # fmt: skip
    # Past RBAC, the call reaches the fake virt-api, which finds no such instance.
    waiting.until(lambda: "not found" in put().stderr, what="the role to apply")


def test_the_fake_virt_api_takes_only_the_front_proxys_clients(cluster: Cluster) -> None:
    service = cluster.get_json("service", "virt-api", "-n", "kubevirt")["spec"]
    port = cluster.get_json("apiservice", "v1.subresources.kubevirt.io")["spec"]["service"]["port"]
    url = f"https://{service['externalName']}:{port}/healthz"
    # The admin certificate is from the cluster CA, not the front proxy's: refused at the handshake.
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        urllib.request.urlopen(url, context=cluster.ssl_context(), timeout=5).close()
    front_proxy = ssl.create_default_context(cafile=str(cluster.bundle.ca.cert))
    pair = cluster.bundle.front_proxy_client
    front_proxy.load_cert_chain(str(pair.cert), str(pair.key))
    with urllib.request.urlopen(url, context=front_proxy, timeout=5) as resp:
        assert resp.read() == b"ok"


def test_every_service_and_endpoint_the_api_server_may_dial_is_on_loopback(cluster: Cluster) -> None:
    """The network rule: the control plane's traffic stays on loopback. kube-apiserver dials an
    ExternalName Service's name (webhooks, APIServices), or an EndpointSlice's addresses; with no
    kube-proxy a cluster IP leads nowhere. The chart's test routes its webhook Service too; this
    looks at whatever exists when it runs."""
    services = cluster.get_json("services", "-A")["items"]
    external = [s for s in services if s["spec"].get("type") == "ExternalName"]
    assert any(s["metadata"]["name"] == "virt-api" for s in external)
    off = [
        (s["metadata"]["name"], s["spec"]["externalName"])
        for s in external
        if not is_loopback(s["spec"]["externalName"])
    ]
    assert not off, off
    assert not [s["spec"]["externalIPs"] for s in services if s["spec"].get("externalIPs")]
    addresses = [
        a
        for es in cluster.get_json("endpointslices", "-A")["items"]
        for e in es.get("endpoints") or []
        for a in e["addresses"]
    ]
    assert all(is_loopback(a) for a in addresses), addresses
    by_name = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services}
    refs = [a["spec"]["service"] for a in cluster.get_json("apiservices")["items"] if a["spec"].get("service")]
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        for config in cluster.get_json(kind)["items"]:
            for hook in config.get("webhooks") or []:
                client = hook["clientConfig"]
                if "url" in client:
                    assert is_loopback(urllib.parse.urlsplit(client["url"]).hostname or ""), client["url"]
                else:
                    refs.append(client["service"])
    for ref in refs:
        svc = by_name.get((ref["namespace"], ref["name"]))
        assert svc is None or svc["spec"]["type"] == "ExternalName", svc
    # A simulated Node's made-up InternalIP is never dialed (no kubelet behind it): the API server
    # prefers its ExternalDNS address, kwok's server on 127.0.0.1 (pod logs, hack/devcluster/
    # podlogs.py), and refuses to proxy to a loopback address.
    node = cluster.get_json("nodes")["items"][0]
    assert [a["address"] for a in node["status"]["addresses"] if a["type"] == "ExternalDNS"] == ["127.0.0.1"]
    proxied = cluster.kubectl("get", "--raw", f"/api/v1/nodes/{node['metadata']['name']}/proxy/healthz", check=False)
    assert proxied.returncode != 0
    assert "address not allowed" in proxied.stderr, proxied.stderr
