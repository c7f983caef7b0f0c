"""A Server's lifecycle on the real control plane: BUILD → ACTIVE on each backend, stop and
start through spec.state, a clear ERROR when no host fits, and delete releasing the host."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import waiting

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"


@pytest.fixture(scope="module")
def flavors(cluster: Cluster) -> None:
    cluster.apply(
        [
            {
                "apiVersion": API,
                "kind": "Flavor",
                "metadata": {"name": "it.server"},
                "spec": {"vcpus": 1, "ram": 1024, "disk": 5},
            },
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "it.huge"}, "spec": {"vcpus": 512, "ram": 1024}},
        ]
    )


def server(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Server", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def get(cluster: Cluster, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def status_of(cluster: Cluster, name: str, namespace: str) -> dict[str, Any]:
    obj = get(cluster, "server", name, namespace)
    status: dict[str, Any] = (obj or {}).get("status", {})
    return status


def wait_status(cluster: Cluster, name: str, namespace: str, wanted: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        s = status_of(cluster, name, namespace)
        return s if s.get("status") == wanted and s.get("taskState") is None else None

    return waiting.until(settled, what=f"server {name} {wanted}")


BACKENDS = {"container": "pod", "kubevirt": "virtualmachine"}


@pytest.mark.usefixtures("operator", "flavors")
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_server_builds_to_active_stops_starts_and_is_deleted(cluster: Cluster, namespace: str, backend: str) -> None:
    workload = BACKENDS[backend]
    cluster.apply([server("web", namespace, flavor="it.server", image="nginx:1.27", backend=backend)])
    s = wait_status(cluster, "web", namespace, "ACTIVE")
    assert (s["vmState"], s["powerState"], s["powerStateCode"]) == ("active", "RUNNING", 1)
    assert s["host"].startswith("compute-")
    assert s["claim"] == {"host": s["host"], "vcpus": 1, "memoryMb": 1024, "diskGb": 5}
    assert s["flavor"]["originalName"] == "it.server"
    assert s["launchedAt"]
    assert (s["actions"][0]["action"], s["actions"][0]["result"]) == ("create", "Success")
    if backend == "container":
        assert s["addresses"][0]["addr"]
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "server/web", "-n", namespace)
    assert get(cluster, workload, "web", namespace) is not None

    def lists_web() -> dict[str, Any] | None:
        h = get_host(cluster, s["host"]) or {}
        return h if any(x["name"] == "web" for x in h.get("servers", [])) else None

    assert waiting.until(lists_web, what="host usage")["vcpusUsed"] >= 1

    cluster.kubectl("patch", "server", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"state":"stopped"}}')
    s = wait_status(cluster, "web", namespace, "SHUTOFF")
    assert (s["vmState"], s["powerState"]) == ("stopped", "SHUTDOWN")
    assert [a["action"] for a in s["actions"]] == ["create", "stop"]

    cluster.kubectl("patch", "server", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"state":"active"}}')
    wait_status(cluster, "web", namespace, "ACTIVE")

    cluster.kubectl("delete", "server", "web", "-n", namespace, "--timeout=30s")
    waiting.until(lambda: get(cluster, workload, "web", namespace) is None, what="workload gone")


def test_a_locked_server_refuses_to_stop_and_to_be_deleted_until_unlocked(
    cluster: Cluster, operator: Operator, namespace: str, flavors: None
) -> None:
    cluster.apply([server("locked", namespace, flavor="it.server", image="nginx:1.27", locked=True)])
    s = wait_status(cluster, "locked", namespace, "ACTIVE")
    cluster.kubectl("patch", "server", "locked", "-n", namespace, "--type=merge", "-p", '{"spec":{"state":"stopped"}}')
    message = f"Instance {s['id']} is locked"
    waiting.until(
        lambda: any(c.get("message") == message for c in status_of(cluster, "locked", namespace).get("conditions", [])),
        what="refusal",
    )
    assert status_of(cluster, "locked", namespace)["status"] == "ACTIVE"
    cluster.kubectl("delete", "server", "locked", "-n", namespace, "--wait=false")
    waiting.until(lambda: (status_of(cluster, "locked", namespace).get("fault") or {}).get("code") == 409, what="409")
    cluster.kubectl("patch", "server", "locked", "-n", namespace, "--type=merge", "-p", '{"spec":{"locked":false}}')
    waiting.until(lambda: get(cluster, "server", "locked", namespace) is None, what="deleted once unlocked")


def test_no_valid_host_is_an_error_with_novas_reasons(
    cluster: Cluster, operator: Operator, namespace: str, flavors: None
) -> None:
    # Within quota (Nova checks quota before scheduling): only the hosts are too small.
    quota = {"apiVersion": API, "kind": "Quota", "metadata": {"name": "default", "namespace": namespace}}
    cluster.apply([{**quota, "spec": {"cores": -1}}])
    waiting.until(lambda: (get_host(cluster, "compute-0") or {}).get("state") == "up", what="hosts discovered")
    cluster.apply([server("huge", namespace, flavor="it.huge", image="nginx:1.27")])
    s = wait_status(cluster, "huge", namespace, "ERROR")
    assert s["fault"]["code"] == 500
    assert s["fault"]["message"].startswith("No valid host was found. There are not enough hosts available.")
    assert "CoreFilter removed" in s["fault"]["message"]
    cluster.kubectl("delete", "server", "huge", "-n", namespace, "--timeout=30s")


def test_a_missing_flavor_is_a_clear_fault(cluster: Cluster, operator: Operator, namespace: str) -> None:
    cluster.apply([server("nof", namespace, flavor="no.such", image="nginx:1.27")])
    s = wait_status(cluster, "nof", namespace, "ERROR")
    assert (s["fault"]["code"], s["fault"]["message"]) == (400, "Flavor no.such could not be found.")


def get_host(cluster: Cluster, name: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", "host", name, "-o", "json", check=False)
    return json.loads(proc.stdout).get("status") if proc.returncode == 0 else None


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHu9qTxq2d3o5o1sJbqXf0Qm6m3D7lQb4nS0a0m6kI0e it@kubenova"


@pytest.mark.usefixtures("operator", "flavors")
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_keypair_and_user_data_reach_the_workload(cluster: Cluster, namespace: str, backend: str) -> None:
    user_data = "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtbZWNobywgaGldXQo="  # "#cloud-config\nruncmd: [[echo, hi]]\n"
    cluster.apply(
        [
            {"apiVersion": API, "kind": "Keypair", "metadata": {"name": "me", "namespace": namespace},
             "spec": {"publicKey": KEY}},
        ]
    )  # fmt: skip
    waiting.until(lambda: (get(cluster, "keypair", "me", namespace) or {}).get("status", {}).get("fingerprint"))
    spec = {"flavor": "it.server", "image": "nginx:1.27", "backend": backend, "keyName": "me", "userData": user_data}
    cluster.apply([server("boot", namespace, **spec)])
    wait_status(cluster, "boot", namespace, "ACTIVE")
    secret = get(cluster, "secret", "boot-user-data", namespace)
    assert secret is not None
    assert secret["data"]["userdata"] == user_data
    assert secret["metadata"]["ownerReferences"][0]["name"] == "boot"  # goes with the Server
    if backend == "container":
        pod = get(cluster, "pod", "boot", namespace)
        assert pod is not None
        assert pod["metadata"]["annotations"]["compute.kubenova.io/authorized-keys"].strip() == KEY
        sources = pod["spec"]["volumes"][0]["projected"]["sources"]
        assert {"secret": {"name": "boot-user-data", "items": [{"key": "userdata", "path": "user_data"}]}} in sources
    else:
        vm = get(cluster, "virtualmachine", "boot", namespace)
        assert vm is not None
        template = vm["spec"]["template"]["spec"]
        creds = template["accessCredentials"][0]["sshPublicKey"]
        assert creds["source"]["secret"]["secretName"] == "boot-ssh-key"
        drive = next(v for v in template["volumes"] if v["name"] == "config-drive")
        assert drive["cloudInitConfigDrive"]["secretRef"] == {"name": "boot-user-data"}
        assert get(cluster, "secret", "boot-ssh-key", namespace) is not None
