"""A Server's lifecycle on the real control plane: BUILD → ACTIVE on each backend, stop and
start through spec.state, a clear ERROR when no host fits, and delete releasing the host."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flavors(module_made: Made) -> None:
    module_made.apply([k.flavor("it.server", vcpus=1, ram=1024, disk=5), k.flavor("it.huge", vcpus=512, ram=1024)])


def wait_status(kube: Client, name: str, namespace: str, wanted: str) -> dict[str, Any]:
    return k.Srv(kube, namespace, name).wait(wanted)


BACKENDS = {"container": "pod", "kubevirt": "virtualmachine"}


@pytest.mark.usefixtures("operator", "flavors")
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_server_builds_to_active_stops_starts_and_is_deleted(
    cluster: Cluster, kube: Client, namespace: str, backend: str
) -> None:
    workload = BACKENDS[backend]
    cluster.apply([k.server("web", namespace, flavor="it.server", image="nginx:1.27", backend=backend)])
    s = wait_status(kube, "web", namespace, "ACTIVE")
    assert (s["vmState"], s["powerState"], s["powerStateCode"]) == ("active", "RUNNING", 1)
    assert s["host"].startswith("compute-")
    assert s["claim"] == {"host": s["host"], "vcpus": 1, "memoryMb": 1024, "diskGb": 5}
    assert s["flavor"]["originalName"] == "it.server"
    assert s["launchedAt"]
    assert (s["actions"][0]["action"], s["actions"][0]["result"]) == ("create", "Success")
    if backend == "container":
        assert s["addresses"][0]["addr"]
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "server/web", "-n", namespace)
    assert k.get(kube, workload, "web", namespace)

    def lists_web() -> dict[str, Any] | None:
        h = k.status(kube, "host", s["host"])
        return h if any(x["name"] == "web" for x in h.get("servers", [])) else None

    assert waiting.until(lists_web, what="host usage")["vcpusUsed"] >= 1

    cluster.kubectl("patch", "server", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"state":"stopped"}}')
    s = wait_status(kube, "web", namespace, "SHUTOFF")
    assert (s["vmState"], s["powerState"]) == ("stopped", "SHUTDOWN")
    assert [a["action"] for a in s["actions"]] == ["create", "stop"]

    cluster.kubectl("patch", "server", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"state":"active"}}')
    wait_status(kube, "web", namespace, "ACTIVE")

    cluster.kubectl("delete", "server", "web", "-n", namespace, "--timeout=30s")
    waiting.until(lambda: not k.get(kube, workload, "web", namespace), what="workload gone")


def test_a_locked_server_refuses_to_stop_and_to_be_deleted_until_unlocked(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str, flavors: None
) -> None:
    cluster.apply([k.server("locked", namespace, flavor="it.server", image="nginx:1.27", locked=True)])
    s = wait_status(kube, "locked", namespace, "ACTIVE")
    cluster.kubectl("patch", "server", "locked", "-n", namespace, "--type=merge", "-p", '{"spec":{"state":"stopped"}}')
    message = f"Instance {s['id']} is locked"
    waiting.until(
        lambda: any(
            c.get("message") == message for c in k.status(kube, "server", "locked", namespace).get("conditions", [])
        ),
        what="refusal",
    )
    assert k.status(kube, "server", "locked", namespace)["status"] == "ACTIVE"
    cluster.kubectl("delete", "server", "locked", "-n", namespace, "--wait=false")
    waiting.until(
        lambda: (k.status(kube, "server", "locked", namespace).get("fault") or {}).get("code") == 409, what="409"
    )
    cluster.kubectl("patch", "server", "locked", "-n", namespace, "--type=merge", "-p", '{"spec":{"locked":false}}')
    waiting.until(lambda: not k.get(kube, "server", "locked", namespace), what="deleted once unlocked")


def test_no_valid_host_is_an_error_with_novas_reasons(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str, flavors: None
) -> None:
    # Within quota (Nova checks quota before scheduling): only the hosts are too small.
    cluster.apply([k.manifest("Quota", "default", namespace, cores=-1)])
    k.wait_for(kube, "host", "compute-0", check=lambda s: s.get("state") == "up", what="hosts discovered")
    cluster.apply([k.server("huge", namespace, flavor="it.huge", image="nginx:1.27")])
    s = wait_status(kube, "huge", namespace, "ERROR")
    assert s["fault"]["code"] == 500
    assert s["fault"]["message"].startswith("No valid host was found. There are not enough hosts available.")
    assert "CoreFilter removed" in s["fault"]["message"]
    cluster.kubectl("delete", "server", "huge", "-n", namespace, "--timeout=30s")


def test_a_missing_flavor_is_a_clear_fault(cluster: Cluster, kube: Client, operator: Operator, namespace: str) -> None:
    cluster.apply([k.server("nof", namespace, flavor="no.such", image="nginx:1.27")])
    s = wait_status(kube, "nof", namespace, "ERROR")
    assert (s["fault"]["code"], s["fault"]["message"]) == (400, "Flavor no.such could not be found.")


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHu9qTxq2d3o5o1sJbqXf0Qm6m3D7lQb4nS0a0m6kI0e it@kubenova"


@pytest.mark.usefixtures("operator", "flavors")
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_keypair_and_user_data_reach_the_workload(cluster: Cluster, kube: Client, namespace: str, backend: str) -> None:
    user_data = "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtbZWNobywgaGldXQo="  # "#cloud-config\nruncmd: [[echo, hi]]\n"
    cluster.apply([k.manifest("Keypair", "me", namespace, publicKey=KEY)])
    k.wait_for(kube, "keypair", "me", namespace, check=lambda s: s.get("fingerprint"))
    spec = {"flavor": "it.server", "image": "nginx:1.27", "backend": backend, "keyName": "me", "userData": user_data}
    cluster.apply([k.server("boot", namespace, **spec)])
    wait_status(kube, "boot", namespace, "ACTIVE")
    secret = k.get(kube, "secret", "boot-user-data", namespace)
    assert secret
    assert secret["data"]["userdata"] == user_data
    assert secret["metadata"]["ownerReferences"][0]["name"] == "boot"  # goes with the Server
    if backend == "container":
        pod = k.get(kube, "pod", "boot", namespace)
        assert pod
        assert pod["metadata"]["annotations"]["compute.kubenova.io/authorized-keys"].strip() == KEY
        sources = pod["spec"]["volumes"][0]["projected"]["sources"]
        assert {"secret": {"name": "boot-user-data", "items": [{"key": "userdata", "path": "user_data"}]}} in sources
    else:
        vm = k.get(kube, "virtualmachine", "boot", namespace)
        assert vm
        template = vm["spec"]["template"]["spec"]
        creds = template["accessCredentials"][0]["sshPublicKey"]
        assert creds["source"]["secret"]["secretName"] == "boot-ssh-key"
        drive = next(v for v in template["volumes"] if v["name"] == "config-drive")
        assert drive["cloudInitConfigDrive"]["secretRef"] == {"name": "boot-user-data"}
        assert k.get(kube, "secret", "boot-ssh-key", namespace)
