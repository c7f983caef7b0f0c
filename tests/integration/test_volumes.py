"""Volumes on the real control plane: a PersistentVolumeClaim attached to a running VM (through
KubeVirt's addvolume, served by the dev cluster's stand-in virt-api), detached (removevolume),
attached to a second server; Nova's refusals, each with Nova's message; and the container
backend's pending change, applied at the Pod's next start."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator", "flavors")]
API = "compute.kubenova.io/v1alpha1"
VM_IMAGE = "quay.io/containerdisks/fedora:41"


@pytest.fixture(scope="module")
def flavors(module_made: Made) -> None:
    module_made.apply([k.flavor("vol.small", vcpus=1, ram=256)])


def claim(cluster: Cluster, namespace: str, name: str, mode: str = "ReadWriteOnce") -> None:
    """A claim that never binds here (no provisioner): attached needs only that it exists."""
    cluster.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"accessModes": [mode], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ]
    )


def server(cluster: Cluster, kube: Client, namespace: str, name: str, backend: str = "kubevirt", **spec: Any) -> k.Srv:
    image = VM_IMAGE if backend == "kubevirt" else "nginx:1.27"
    body = {"flavor": "vol.small", "backend": backend, **({"image": image} if "bootVolume" not in spec else {}), **spec}
    cluster.apply(
        [{"apiVersion": API, "kind": "Server", "metadata": {"name": name, "namespace": namespace}, "spec": body}]
    )
    return k.Srv(kube, namespace, name)


def attached(srv: k.Srv, *claims: str) -> dict[str, Any] | None:
    """The status once exactly ``claims`` are attached (no task, no change in flight)."""
    s = srv.status
    entries = [a for a in s.get("volumeAttachments", []) if not a.get("root")]
    ids = [a["id"] for a in entries]
    done = s.get("taskState") is None and all(a["state"] == "attached" for a in entries)
    return s if done and ids == list(claims) else None


def vm_claims(srv: k.Srv) -> list[str]:
    vm = k.get(srv.kube, "virtualmachine", srv.name, srv.namespace)
    return [
        v["persistentVolumeClaim"]["claimName"]
        for v in vm["spec"]["template"]["spec"]["volumes"]
        if v.get("persistentVolumeClaim", {}).get("hotpluggable")
    ]


def fault(srv: k.Srv, text: str) -> dict[str, Any] | None:
    s = srv.status
    return s if text in (s.get("fault") or {}).get("message", "") else None


def test_a_volume_is_hot_plugged_into_a_running_vm_detached_and_attached_to_a_second_server(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    claim(cluster, namespace, "data")
    one = server(cluster, kube, namespace, "one")
    one.wait("ACTIVE")
    one.declare(volumes=[{"claimName": "data", "tag": "db"}])
    s = waiting.until(lambda: attached(one, "data"), what="data attached to one")
    assert s["status"] == "ACTIVE"
    [entry] = s["volumeAttachments"]
    assert entry | {"serverId": None} == {
        "id": "data",
        "serverId": None,
        "device": "/dev/vdb",
        "tag": "db",
        "deleteOnTermination": False,
        "state": "attached",
    }
    assert entry["serverId"] == s["id"]
    assert s["volumesAttached"] == [{"id": "data", "deleteOnTermination": False}]
    assert vm_claims(one) == ["data"]  # in the VM's spec, hotpluggable, as KubeVirt's addvolume writes it
    assert [a["action"] for a in s["actions"]][-1] == "attach_volume"
    one.wait_reasons("VolumeAttached")

    # In use by one: a second server is refused with Cinder's words, and waits.
    two = server(cluster, kube, namespace, "two")
    two.wait("ACTIVE")
    two.declare(volumes=[{"claimName": "data"}])
    s = waiting.until(lambda: fault(two, "status must be available or downloading to reserve"), what="refusal")
    assert s["fault"]["code"] == 400
    assert "but the current status is in-use" in s["fault"]["message"]
    assert s["status"] == "ACTIVE"  # refused, not broken

    # Detached from one (removevolume): two gets it at once, without being touched.
    one.declare(volumes=[])
    waiting.until(lambda: attached(one), what="data detached from one")
    assert vm_claims(one) == []
    one.wait_reasons("VolumeDetached")
    waiting.until(lambda: attached(two, "data"), what="data attached to two")
    assert vm_claims(two) == ["data"]

    # It survives a reboot (a re-rendered VM keeps it), and a stopped VM gets one in its spec.
    claim(cluster, namespace, "logs")
    two.declare(state="stopped")
    two.wait("SHUTOFF")
    two.declare(volumes=[{"claimName": "data"}, {"claimName": "logs", "device": "/dev/vdf"}])
    s = waiting.until(lambda: attached(two, "data", "logs"), what="logs attached to stopped two")
    assert s["status"] == "SHUTOFF"
    assert [a["device"] for a in s["volumeAttachments"]] == ["/dev/vdb", "/dev/vdf"]
    two.declare(state="active")
    two.wait("ACTIVE")
    assert vm_claims(two) == ["data", "logs"]


def test_a_multiattach_claim_is_attached_to_two_servers(cluster: Cluster, kube: Client, namespace: str) -> None:
    claim(cluster, namespace, "shared", mode="ReadWriteMany")
    a = server(cluster, kube, namespace, "a", volumes=[{"claimName": "shared"}])
    b = server(cluster, kube, namespace, "b", volumes=[{"claimName": "shared"}])
    waiting.until(lambda: attached(a, "shared"), what="shared on a")
    waiting.until(lambda: attached(b, "shared"), what="shared on b")


def test_a_missing_claim_is_a_clear_fault_and_attaches_once_it_exists(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    srv = server(cluster, kube, namespace, "waits", volumes=[{"claimName": "later"}])
    s = waiting.until(lambda: fault(srv, "Volume later could not be found."), what="not found")
    assert s["fault"]["code"] == 404
    assert s["status"] == "ACTIVE"
    claim(cluster, namespace, "later")
    s = waiting.until(lambda: attached(srv, "later"), what="later attached")
    assert vm_claims(srv) == ["later"]


def test_attach_in_a_state_nova_refuses_gives_novas_409(cluster: Cluster, kube: Client, namespace: str) -> None:
    claim(cluster, namespace, "data")
    srv = server(cluster, kube, namespace, "asleep", state="suspended")
    srv.wait("SUSPENDED")
    srv.declare(volumes=[{"claimName": "data"}])
    uid = srv.status["id"]
    s = waiting.until(
        lambda: fault(srv, f"Cannot 'attach_volume' instance {uid} while it is in vm_state suspended"),
        what="409",
    )
    assert s["fault"]["code"] == 409
    # The Event is posted after the status write that carries the fault: wait for it too.
    waiting.until(lambda: "ActionRefused" in srv.reasons(), what="ActionRefused Event")
    srv.declare(state="active")  # resumed, it is attached
    waiting.until(lambda: attached(srv, "data"), what="attached after resume")


def test_the_root_volume_cannot_be_detached(cluster: Cluster, kube: Client, namespace: str) -> None:
    claim(cluster, namespace, "root")
    srv = server(cluster, kube, namespace, "bfv", bootVolume={"claimName": "root"})
    s = srv.wait("ACTIVE")
    assert s["volumesAttached"] == [{"id": "root", "deleteOnTermination": False}]
    assert s["volumeAttachments"][0]["root"] is True
    body = srv.get()
    del body["spec"]["bootVolume"]
    body["spec"]["image"] = VM_IMAGE
    proc = cluster.kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
    assert proc.returncode != 0
    assert "Cannot detach a root device volume" in proc.stderr
    patch = json.dumps({"spec": {"volumes": [{"claimName": "root"}]}})
    proc = cluster.kubectl("patch", "server", "bfv", "-n", namespace, "--type=merge", "-p", patch, check=False)
    assert "the bootVolume's claim is the server's root device volume" in proc.stderr


def test_the_container_backend_applies_a_volume_at_the_pods_next_start(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    claim(cluster, namespace, "data")
    srv = server(cluster, kube, namespace, "pod", backend="container")
    srv.wait("ACTIVE")
    pod_uid = cluster.get_json("pod", "pod", "-n", namespace)["metadata"]["uid"]
    srv.declare(volumes=[{"claimName": "data", "deleteOnTermination": True}])

    def pending() -> dict[str, Any] | None:
        s = srv.status
        cond: dict[str, Any] = next((c for c in s.get("conditions", []) if c["type"] == "VolumesPending"), {})
        return s if cond.get("status") == "True" else None

    s = waiting.until(pending, what="VolumesPending")
    assert s["volumeAttachments"][0]["pendingRestart"] is True
    waiting.until(lambda: "VolumePending" in srv.reasons(), what="VolumePending Event")  # after the status write
    pod = cluster.get_json("pod", "pod", "-n", namespace)
    assert pod["metadata"]["uid"] == pod_uid  # never a silent restart
    assert not any("persistentVolumeClaim" in v for v in pod["spec"]["volumes"])

    srv.declare(state="stopped")
    srv.wait("SHUTOFF")
    srv.declare(state="active")
    s = waiting.until(lambda: attached(srv, "data"), what="applied at the next start")
    assert not s["volumeAttachments"][0].get("pendingRestart")
    cond = next(c for c in s["conditions"] if c["type"] == "VolumesPending")
    assert cond["status"] == "False"
    # The status may say attached before the new Pod is made: wait for the Pod itself.
    pod = waiting.until(lambda: k.get(kube, "pod", "pod", namespace), what="pod")
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["data"]

    # A server made with a volume has it in its first Pod (attached while it builds, as Nova does).
    born = server(cluster, kube, namespace, "born", backend="container", volumes=[{"claimName": "boot-data"}])
    claim(cluster, namespace, "boot-data")  # made after: the server waits, then attaches it
    waiting.until(lambda: attached(born, "boot-data"), what="boot-data attached")
    claim(cluster, namespace, "early")
    early = server(cluster, kube, namespace, "early", backend="container", volumes=[{"claimName": "early"}])
    s = early.wait("ACTIVE")
    assert [(a["id"], a.get("pendingRestart")) for a in s["volumeAttachments"]] == [("early", None)]
    pod = cluster.get_json("pod", "early", "-n", namespace)
    assert [
        v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v
    ] == ["early"]

    # deleteOnTermination: the claim is deleted with the server (gone once the pvc-protection
    # controller sees no Pod using it, Terminating until then).
    cluster.kubectl("delete", "server", "pod", "-n", namespace, "--timeout=60s")

    def deleted() -> bool:
        pvc = k.get(kube, "persistentvolumeclaim", "data", namespace)
        return not pvc or bool(pvc["metadata"].get("deletionTimestamp"))

    waiting.until(
        deleted,
        what="data deleted with the server",
    )


def test_two_servers_racing_for_one_claim_cannot_both_take_it(cluster: Cluster, kube: Client, namespace: str) -> None:
    claim(cluster, namespace, "contested")
    spec = {"flavor": "vol.small", "backend": "kubevirt", "image": VM_IMAGE, "volumes": [{"claimName": "contested"}]}
    cluster.apply(
        [
            {"apiVersion": API, "kind": "Server", "metadata": {"name": n, "namespace": namespace}, "spec": spec}
            for n in ("left", "right")
        ]
    )
    left, right = k.Srv(kube, namespace, "left"), k.Srv(kube, namespace, "right")
    left.wait("ACTIVE")
    right.wait("ACTIVE")

    def outcome() -> list[tuple[list[str], int | None]] | None:
        out = [
            ([a["id"] for a in s.get("volumeAttachments", [])], (s.get("fault") or {}).get("code"))
            for s in (left.status, right.status)
        ]
        return out if sorted(out) == [([], 400), (["contested"], None)] else None

    waiting.until(outcome, what="one holder, one refusal")


def test_a_volume_on_a_node_bound_class_refuses_a_move_and_takes_unshelve_back_to_its_node(
    made: Made, cluster: Cluster, kube: Client, namespace: str
) -> None:
    made.apply(
        [
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": "it-vol-local"},
                "provisioner": "rancher.io/local-path",
                "volumeBindingMode": "WaitForFirstConsumer",
            }
        ]
    )
    body: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "storageClassName": "it-vol-local"}
    body["resources"] = {"requests": {"storage": "1Gi"}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "local", "namespace": namespace}}
    cluster.apply([pvc | {"spec": body}])
    srv = server(cluster, kube, namespace, "bound", volumes=[{"claimName": "local"}])
    waiting.until(lambda: attached(srv, "local"), what="local attached")
    host = srv.wait("ACTIVE")["host"]

    name = "bound-migrate"
    action = {"apiVersion": API, "kind": "ServerAction", "metadata": {"name": name, "namespace": namespace}}
    cluster.apply([action | {"spec": {"server": "bound", "action": "migrate"}}])

    def ended() -> dict[str, Any] | None:
        s = k.status(kube, "serveraction", name, namespace)
        return s if s.get("phase") in ("Failed", "Succeeded") else None

    done = waiting.until(ended, what="migrate refused")
    assert done["phase"] == "Failed"
    assert done["fault"]["code"] == 409
    assert done["fault"]["message"] == (
        "Volume local is a ReadWriteOnce claim on storage class it-vol-local, whose provisioner rancher.io/local-path"
        " makes node-local volumes: it cannot follow the server to another host."
    )
    assert srv.wait("ACTIVE")["host"] == host

    # Offloaded, it can come back only where the volume is: no claim says where, so it is refused...
    srv.declare(state="shelved_offloaded")
    srv.wait("SHELVED_OFFLOADED")
    srv.declare(state="active")
    s = waiting.until(lambda: fault(srv, "No claim records the node it is on"), what="unshelve refused")
    assert s["status"] == "SHELVED_OFFLOADED"
    assert s["fault"]["code"] == 409
    # ...and once the claim records its node (as the scheduler does for WaitForFirstConsumer), it
    # goes there. A refusal is retried at the next spec change: one is made each time the refusal
    # is seen again (the operator may read the server before the claim's new annotation).
    cluster.kubectl("annotate", "pvc", "local", "-n", namespace, f"volume.kubernetes.io/selected-node={host}")
    tries = iter(range(1, 100))

    def unshelved() -> dict[str, Any] | None:
        s = srv.status
        if s.get("status") == "ACTIVE" and s.get("taskState") is None:
            return s
        if (
            "No claim records" in (s.get("fault") or {}).get("message", "")
            and s.get("observedGeneration") == (k.get(kube, "server", "bound", namespace)["metadata"]["generation"])
        ):
            srv.declare(metadata={"try": str(next(tries))})
        return None

    assert waiting.until(unshelved, what="unshelved on the claim's node")["host"] == host
