"""Rendered Pods are sized by the flavor, bound to the chosen host, restricted, and carry Nova's
metadata and the keypair through the downward API."""

from __future__ import annotations

import json

from kubenova.backends import container
from kubenova.backends.workload import AUTHORIZED_KEYS_ANNOTATION, META_DATA_ANNOTATION, Flavor, PlacedServer

SERVER = PlacedServer(
    name="api",
    namespace="demo",
    uid="uid-1",
    flavor=Flavor("m1.small", vcpus=1, ram=2048, disk=20, ephemeral=5),
    host="compute-2",
    image="nginx:1.27",
    key_name="bob",
    public_key="ssh-ed25519 AAAA bob",
    user_data_secret="api-user-data",
)


def test_the_pod_is_sized_bound_and_owned() -> None:
    pod = container.render(SERVER)
    c = pod["spec"]["containers"][0]
    size = {"cpu": "1", "memory": "2048Mi", "ephemeral-storage": "25Gi"}
    assert c["resources"] == {"requests": size, "limits": size}
    assert c["image"] == "nginx:1.27"
    assert pod["spec"]["nodeName"] == "compute-2"
    assert pod["metadata"]["ownerReferences"][0] == {
        "apiVersion": "compute.kubenova.io/v1alpha1", "kind": "Server", "name": "api", "uid": "uid-1",
        "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip


def test_the_pod_is_restricted() -> None:
    pod = container.render(SERVER)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["spec"]["automountServiceAccountToken"] is False
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_metadata_keys_and_user_data_are_mounted() -> None:
    pod = container.render(SERVER)
    annotations = pod["metadata"]["annotations"]
    assert json.loads(annotations[META_DATA_ANNOTATION])["uuid"] == "uid-1"
    assert annotations[AUTHORIZED_KEYS_ANNOTATION] == "ssh-ed25519 AAAA bob\n"
    sources = pod["spec"]["volumes"][0]["projected"]["sources"]
    paths = [i["path"] for i in sources[0]["downwardAPI"]["items"]]
    assert paths == ["meta_data.json", "authorized_keys"]
    assert sources[1]["secret"]["name"] == "api-user-data"


def test_pod_states_map_to_nova_power_states() -> None:
    running = {
        "spec": {"nodeName": "compute-2"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                   "podIPs": [{"ip": "10.244.0.7"}]},
    }  # fmt: skip
    seen = container.observe(running)
    assert (seen.power, seen.ready, seen.host) == ("RUNNING", True, "compute-2")
    assert [(a.network, a.addr) for a in seen.addresses] == [("pod", "10.244.0.7")]
    assert container.observe({"status": {"phase": "Pending"}}).power == "NOSTATE"
    assert container.observe({"status": {"phase": "Failed"}}).power == "CRASHED"
    assert not container.observe(None).exists


def test_an_image_pull_failure_is_a_fault() -> None:
    pod = {"status": {"phase": "Pending", "containerStatuses": [
        {"state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}]}}  # fmt: skip
    assert container.observe(pod).failure == "ErrImagePull: not found"


def test_actions_a_pod_cannot_do_are_not_supported() -> None:
    assert {"pause", "suspend", "live_migrate", "rescue"} <= container.UNSUPPORTED.keys()
