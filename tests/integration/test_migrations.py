"""Every move leaves a Migration record (Nova's os-migrations) owned by its server: a resize,
a cold migration, an evacuation and a live migration, each with Nova's fields and statuses,
listed by ``kubectl get migrations`` with `openstack server migration list`'s columns, and gone
with the server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from kubenova.compute_api import microversions
from kubenova.compute_api.migrations import migration_view
from tests import kube as k
from tests import waiting
from tests.integration import test_compute_api as capi
from tests.integration.conftest import Made

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator", "flavors")]
# The Compute API's fixtures (its process, the chart's user roles, an openstack CLI config).
api, admin_token, clouds, user_roles = capi.api, capi.admin_token, capi.clouds, capi.user_roles


@pytest.fixture(scope="module")
def flavors(module_made: Made) -> None:
    module_made.apply(
        [k.flavor("mig.small", vcpus=1, ram=512, disk=1), k.flavor("mig.medium", vcpus=2, ram=1024, disk=2)]
    )


def record(kube: Client, namespace: str, status: str, kind: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for m in k.items(kube, "migration", namespace):
            if m["spec"]["migrationType"] == kind and (m.get("status") or {}).get("status") == status:
                return m
        return None

    return waiting.until(found, what=f"a {kind} record {status}")


def test_every_move_leaves_a_record_with_novas_fields(cluster: Cluster, kube: Client, namespace: str) -> None:
    cluster.apply([k.server("s1", namespace, flavor="mig.small", image="nginx:1.27", backend="container")])
    srv = k.Srv(kube, namespace, "s1")
    first = srv.wait("ACTIVE")["host"]
    uid = srv.get()["metadata"]["uid"]

    srv.declare(flavor="mig.medium", autoConfirmResize=True)
    s = srv.wait("ACTIVE", actions=3)
    resize = record(kube, namespace, "confirmed", "resize")
    assert resize["spec"] | {"createdAt": None} == {
        "server": "s1",
        "serverUid": uid,
        "migrationType": "resize",
        "sourceCompute": first,
        "destCompute": s["host"],
        "oldFlavor": "mig.small",
        "newFlavor": "mig.medium",
        "requestId": s["actions"][1]["requestId"],
        "createdAt": None,
    }
    owner = resize["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("Server", uid)

    before = srv.status["host"]
    assert srv.act("migrate")["phase"] == "Succeeded"
    s = srv.wait("ACTIVE")  # auto-confirmed
    cold = record(kube, namespace, "confirmed", "migration")
    assert (cold["spec"]["sourceCompute"], cold["spec"]["destCompute"]) == (before, s["host"])
    assert cold["spec"]["oldFlavor"] == cold["spec"]["newFlavor"] == "mig.medium"

    host = s["host"]

    def forced_down(down: bool) -> None:
        cluster.kubectl("patch", "host", host, "--type=merge", "-p", json.dumps({"spec": {"forcedDown": down}}))

    forced_down(True)
    try:
        waiting.until(lambda: k.get(kube, "host", host)["status"]["state"] == "down", what="host down")
        assert srv.act("evacuate")["phase"] == "Succeeded"
        srv.wait("ACTIVE")
    finally:
        forced_down(False)
        k.wait_for(kube, "host", host, check=lambda st: st.get("state") == "up", what="host up again")
    evacuation = record(kube, namespace, "done", "evacuation")
    assert evacuation["spec"]["sourceCompute"] == host

    # Kept after each move ends, one per move; listed with Nova's columns.
    assert len(k.items(kube, "migration", namespace)) == 3
    table = cluster.kubectl("get", "migrations", "-n", namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME", "SERVER", "TYPE", "SOURCE", "COMPUTE", "DEST", "COMPUTE", "STATUS", "OLD", "FLAVOR", "NEW", "FLAVOR",
        "AGE",
    ]  # fmt: skip
    # The Compute API's os-migrations entry is read from the record.
    view = migration_view(cold, microversions.MAX)
    assert view is not None
    assert (view["migration_type"], view["status"], view["instance_uuid"]) == ("migration", "confirmed", uid)
    assert (view["source_compute"], view["dest_node"]) == (before, cold["spec"]["destCompute"])

    cluster.kubectl("delete", "server", "s1", "-n", namespace)
    waiting.until(lambda: not k.items(kube, "migration", namespace), what="the records gone with the server")


def test_a_live_migration_leaves_a_completed_record(cluster: Cluster, kube: Client, namespace: str) -> None:
    image = "quay.io/containerdisks/fedora:40"
    cluster.apply([k.server("vm1", namespace, flavor="mig.small", image=image, backend="kubevirt")])
    srv = k.Srv(kube, namespace, "vm1")
    source = srv.wait("ACTIVE")["host"]
    assert srv.act("liveMigrate")["phase"] == "Succeeded"
    s = srv.wait("ACTIVE")
    live = record(kube, namespace, "completed", "live-migration")
    assert (live["spec"]["sourceCompute"], live["spec"]["destCompute"]) == (source, s["host"])
    assert live["status"]["updatedAt"]


def test_the_compute_api_live_migrates_and_a_project_viewer_lists_the_records(
    cluster: Cluster, kube: Client, namespace: str, clouds: dict[str, Any], user_roles: None
) -> None:
    image = "quay.io/containerdisks/fedora:40"
    cluster.apply([k.server("vm2", namespace, flavor="mig.small", image=image, backend="kubevirt")])
    srv = k.Srv(kube, namespace, "vm2")
    source = srv.wait("ACTIVE")["host"]
    uid = srv.get()["metadata"]["uid"]
    capi.ok(clouds, "demo", "server", "migrate", "--live-migration", uid)
    live = record(kube, namespace, "completed", "live-migration")
    assert live["spec"]["sourceCompute"] == source
    # The chart's view role reads the project's records: openstack server migration list.
    rows = capi.osc(clouds, "viewer", "--os-compute-api-version", "2.80", "server", "migration", "list")
    assert [(r["Server UUID"], r["Type"], r["Status"], r["Source Compute"]) for r in rows] == [
        (uid, "live-migration", "completed", source)
    ]
    # Nothing in flight: abort is Nova's 404 for a migration the server does not have.
    proc = capi.run(clouds, "demo", "--os-compute-api-version", "2.24", "server", "migration", "abort", uid, "1")
    assert proc.returncode != 0
    assert "not found for instance" in proc.stderr
