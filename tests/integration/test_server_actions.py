"""Every Nova action on the real control plane, on each backend: lasting state through the spec,
one-shot actions through ServerActions, with Nova's states, the action history and an Event at
each step, and Nova's errors for what is refused."""

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
IMAGES = {
    "container": ("nginx:1.27", "nginx:1.28"),
    "kubevirt": ("quay.io/containerdisks/fedora:40", "quay.io/containerdisks/fedora:41"),
}


@pytest.fixture(scope="module")
def flavors(module_made: Made) -> None:
    module_made.apply(
        [
            k.flavor(f"act.{size}", **spec)
            for size, spec in {
                "small": {"vcpus": 1, "ram": 512, "disk": 1},
                "medium": {"vcpus": 2, "ram": 1024, "disk": 2},
            }.items()
        ]
    )


def create(cluster: Cluster, kube: Client, namespace: str, backend: str, name: str = "s1", **spec: Any) -> k.Srv:
    body = {"flavor": "act.small", "image": IMAGES[backend][0], "backend": backend, **spec}
    cluster.apply([k.server(name, namespace, **body)])
    srv = k.Srv(kube, namespace, name)
    srv.wait("ACTIVE")
    return srv


def workload(srv: k.Srv, backend: str) -> dict[str, Any]:
    return k.get(srv.kube, "pod" if backend == "container" else "virtualmachine", srv.name, srv.namespace)


@pytest.mark.parametrize("backend", ["container", "kubevirt"])
def test_reboot_rebuild_resize_migrate_on_each_backend(
    cluster: Cluster, kube: Client, namespace: str, backend: str
) -> None:
    srv = create(cluster, kube, namespace, backend)
    first_host = srv.status["host"]

    for kind in ("SOFT", "HARD"):
        before = srv.status["workload"]["revision"]
        result = srv.act("reboot", type=kind)
        assert result["phase"] == "Succeeded", result
        s = srv.wait("ACTIVE")
        assert (s["vmState"], s["powerState"], s["host"]) == ("active", "RUNNING", first_host)
        assert s["workload"]["revision"] == result["requestId"] != before  # a new boot
        record = srv.last_action()
        assert (record["action"], record["result"], record["requestId"]) == ("reboot", "Success", result["requestId"])
        assert record["serverAction"].startswith("s1-reboot-")

    # A new image is a rebuild, on the same host.
    srv.declare(image=IMAGES[backend][1])
    s = srv.wait("ACTIVE", actions=4)
    assert (s["image"], s["host"], srv.last_action()["action"]) == (IMAGES[backend][1], first_host, "rebuild")
    w = workload(srv, backend)
    spec = w["spec"] if backend == "container" else w["spec"]["template"]["spec"]
    image = spec["containers"][0]["image"] if backend == "container" else spec["volumes"][0]["containerDisk"]["image"]
    assert image == IMAGES[backend][1]

    # A new flavor is a resize: VERIFY_RESIZE, holding the source's claim until a confirm...
    srv.declare(flavor="act.medium")
    s = srv.wait("VERIFY_RESIZE")
    assert (s["vmState"], s["flavor"]["originalName"], s["migration"]["status"]) == (
        "resized",
        "act.medium",
        "finished",
    )
    assert s["migration"]["sourceClaim"]["vcpus"] == 1
    assert s["claim"]["vcpus"] == 2
    assert srv.act("confirmResize")["phase"] == "Succeeded"
    s = srv.wait("ACTIVE")
    assert s["migration"]["status"] == "confirmed"
    assert not s["migration"].get("sourceClaim")

    # ...or a revert: here of a cold migration, which goes back to the source host.
    host = s["host"]
    migrated = srv.act("migrate")
    assert migrated["phase"] == "Succeeded", migrated
    s = srv.wait("VERIFY_RESIZE")
    assert s["host"] != host
    assert s["migration"]["sourceHost"] == host
    srv.act("revertResize")
    s = srv.wait("ACTIVE")
    assert (s["host"], s["migration"]["status"]) == (host, "reverted")

    # A revert of nothing is Nova's 409.
    refused = srv.act("revertResize")
    assert refused["phase"] == "Failed"
    assert refused["fault"]["code"] == 409
    assert refused["fault"]["message"] == f"Cannot 'revertResize' instance {s['id']} while it is in vm_state active"

    srv.wait_reasons("Rebooted", "Rebuilt", "Resized", "ResizeConfirmed", "Migrated", "ResizeReverted", "ActionRefused")


@pytest.mark.parametrize("backend", ["container", "kubevirt"])
def test_shelve_offload_unshelve_and_stop_start(cluster: Cluster, kube: Client, namespace: str, backend: str) -> None:
    srv = create(cluster, kube, namespace, backend)
    srv.declare(state="shelved")
    s = srv.wait("SHELVED")
    assert (s["vmState"], s["powerState"], s["claim"]["host"]) == ("shelved", "SHUTDOWN", s["host"])

    srv.declare(state="shelved_offloaded")
    s = srv.wait("SHELVED_OFFLOADED")
    assert (s["powerState"], s.get("host"), s.get("claim")) == ("NOSTATE", None, None)  # the host is given back
    assert not k.get(kube, "pod", srv.name, namespace)
    assert not k.get(kube, "virtualmachine", srv.name, namespace)

    srv.declare(state="active")
    s = srv.wait("ACTIVE")
    assert s["host"]
    assert s["claim"]["host"] == s["host"]
    srv.declare(state="stopped")
    s = srv.wait("SHUTOFF")
    assert s["powerState"] == "SHUTDOWN"
    srv.declare(state="active")
    srv.wait("ACTIVE")
    assert [a["action"] for a in srv.status["actions"]] == [
        "create", "shelve", "shelveOffload", "unshelve", "stop", "start",
    ]  # fmt: skip
    srv.wait_reasons("Shelved", "Offloaded", "Unshelved", "Stopped", "Started")


def test_kubevirt_rescue_pause_and_suspend(cluster: Cluster, kube: Client, namespace: str) -> None:
    srv = create(cluster, kube, namespace, "kubevirt")
    srv.declare(rescue=True, rescueImage="quay.io/containerdisks/rescue:1")
    s = srv.wait("RESCUE")
    assert (s["vmState"], s["powerState"]) == ("rescued", "RUNNING")
    disks = workload(srv, "kubevirt")["spec"]["template"]["spec"]["domain"]["devices"]["disks"]
    assert [d["name"] for d in disks[:2]] == ["rescue", "root"]  # the server's disk is attached to the rescue boot
    srv.declare(rescue=False)
    srv.wait("ACTIVE")

    srv.declare(state="paused")
    s = srv.wait("PAUSED")
    assert (s["vmState"], s["powerState"], s["powerStateCode"]) == ("paused", "PAUSED", 3)
    assert workload(srv, "kubevirt")["status"]["printableStatus"] == "Paused"
    # Paused to suspended is no Nova transition: the operator unpauses first, then suspends.
    srv.declare(state="suspended")
    s = srv.wait("SUSPENDED")
    assert (s["vmState"], s["powerState"], s["powerStateCode"]) == ("suspended", "SUSPENDED", 7)
    assert [a["action"] for a in s["actions"]][-3:] == ["pause", "unpause", "suspend"]
    srv.declare(state="active")
    srv.wait("ACTIVE")
    srv.wait_reasons("Rescued", "Unrescued", "Paused", "Unpaused", "Suspended", "Resumed")


@pytest.mark.parametrize("action", ["paused", "suspended"])
def test_the_container_backend_refuses_what_a_pod_cannot_do(
    cluster: Cluster, kube: Client, namespace: str, action: str
) -> None:
    srv = create(cluster, kube, namespace, "container")
    srv.declare(state=action)

    def refused() -> dict[str, Any] | None:
        s = srv.status
        return s if (s.get("fault") or {}).get("code") == 501 else None

    s = waiting.until(refused, what="501")
    assert s["status"] == "ACTIVE"  # nothing happened to the server
    assert s["fault"]["message"].startswith("The requested functionality is not supported: the container backend")
    synced = next(c for c in s["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "Unsupported")
    srv.wait_reasons("Unsupported")
    live = srv.act("liveMigrate")
    assert (live["phase"], live["fault"]["code"]) == ("Failed", 501)


def test_a_locked_server_refuses_server_actions_with_novas_message(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    srv = create(cluster, kube, namespace, "container", locked=True)
    result = srv.act("reboot")
    assert (result["phase"], result["fault"]["code"]) == ("Failed", 409)
    assert result["fault"]["message"] == f"Instance {srv.status['id']} is locked"
    srv.declare(locked=False)
    assert srv.act("reboot")["phase"] == "Succeeded"


def test_host_maintenance_stops_or_moves_the_servers_on_it(cluster: Cluster, kube: Client, namespace: str) -> None:
    srv = create(cluster, kube, namespace, "container")
    host = srv.status["host"]

    def maintenance(mode: str | None) -> None:
        cluster.kubectl("patch", "host", host, "--type=merge", "-p", json.dumps({"spec": {"maintenance": mode}}))

    try:
        maintenance("stop")
        s = srv.wait("SHUTOFF")
        assert s["host"] == host  # stopped where it is
        maintenance(None)
        s = srv.wait("ACTIVE", actions=3)  # back to what its spec declares
        assert [a["action"] for a in s["actions"]] == ["create", "stop", "start"]

        maintenance("migrate")

        def moved() -> dict[str, Any] | None:
            st = srv.status
            return st if st.get("status") == "ACTIVE" and st.get("host") not in (None, host) else None

        try:
            s = waiting.until(moved, what="moved off the host")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; status: {json.dumps(srv.status)}") from None
        assert s["migration"]["status"] == "confirmed"  # an admin's evacuation needs no confirmation
        assert [a["action"] for a in s["actions"]][-2:] == ["migrate", "confirmResize"]
    finally:
        maintenance(None)


def test_evacuate_only_from_a_host_that_is_down(cluster: Cluster, kube: Client, namespace: str) -> None:
    srv = create(cluster, kube, namespace, "container")
    host = srv.status["host"]
    refused = srv.act("evacuate")
    assert (refused["phase"], refused["fault"]["code"]) == ("Failed", 400)
    assert refused["fault"]["message"] == f"Compute service of {host} is still in use."

    def forced_down(down: bool) -> None:
        cluster.kubectl("patch", "host", host, "--type=merge", "-p", json.dumps({"spec": {"forcedDown": down}}))

    forced_down(True)
    try:
        waiting.until(
            lambda: k.get(kube, "host", host)["status"]["state"] == "down",
            what="host down",
        )
        result = srv.act("evacuate")
        assert result["phase"] == "Succeeded", result
        s = srv.wait("ACTIVE")
        assert s["host"] != host
        assert (s["migration"]["kind"], s["migration"]["status"]) == ("evacuation", "done")
        srv.wait_reasons("Evacuated")
    finally:
        forced_down(False)
        k.wait_for(kube, "host", host, check=lambda st: st.get("state") == "up", what="host up again")
