"""Every example folder applies cleanly, and what the operator already handles becomes Ready."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hack.devcluster import installing
from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import waiting

pytestmark = pytest.mark.integration


def test_examples_apply_and_flavors_keypairs_and_zones_follow(cluster: Cluster, operator: Operator) -> None:
    folders = installing.example_folders()
    assert [f.name[:2] for f in folders] == [f"{i:02d}" for i in range(len(folders))]
    try:
        for folder in folders:
            cluster.kubectl("apply", "-f", str(folder))
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "flavors", "--all")
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "keypairs", "--all", "-n", "demo")
        generated = cluster.get_json("keypair", "demo-generated", "-n", "demo")["status"]
        assert generated["privateKeySecretRef"] == {"name": "keypair-demo-generated"}
        waiting.until(lambda: host_zone(cluster, "compute-0") == "az-ssd", what="compute-0 in zone az-ssd")
        # 09-volumes: both claims on the VM, the multiattach one on the container server too.
        waiting.until(lambda: attached(cluster, "db-1") == ["db-data", "shared-media"], what="db-1's volumes")
        waiting.until(lambda: attached(cluster, "web-media") == ["shared-media"], what="web-media's volume")
    finally:
        unprotect(cluster)
        for folder in reversed(folders[1:]):
            cluster.kubectl("delete", "-f", str(folder), "--ignore-not-found", "--wait=false", check=False)
        cluster.kubectl("delete", "namespace", "demo", "--wait=false", check=False)
    waiting.until(lambda: host_zone(cluster, "compute-0") == "nova", what="compute-0 back in zone nova")


def host_zone(cluster: Cluster, name: str) -> str | None:
    proc = cluster.kubectl("get", "host", name, "-o", "json", check=False)
    zone = json.loads(proc.stdout).get("status", {}).get("availabilityZone") if proc.returncode == 0 else None
    return zone if isinstance(zone, str) else None


def unprotect(cluster: Cluster) -> None:
    """A protected Image cannot be deleted (Glance's rule): unprotect the example's first."""
    patch = '{"spec":{"protected":false}}'
    cluster.kubectl("patch", "image", "demo-golden", "--type=merge", "-p", patch, check=False)


def test_the_images_example_lists_images_and_boots_a_server_on_a_persistent_root_disk(
    cluster: Cluster, operator: Operator
) -> None:
    folders = {f.name: f for f in installing.example_folders()}
    needed = [folders[n] for n in ("00-namespace", "01-flavors", "02-keypairs", "08-images")]
    gone = lambda: cluster.kubectl("get", "namespace", "demo", check=False).returncode != 0  # noqa: E731
    waiting.until(gone, timeout=120, what="namespace demo gone (an earlier test's)")
    try:
        for folder in needed:
            cluster.kubectl("apply", "-f", str(folder))
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "images", "--all")
        listed = cluster.kubectl("get", "images").stdout
        for name in ("cirros-0.6", "fedora-41", "demo-golden", "team-base"):
            assert name in listed
        golden = cluster.get_json("image", "demo-golden")
        assert (golden["spec"]["visibility"], golden["spec"]["owner"], golden["status"]["status"]) == (
            "private",
            "demo",
            "active",
        )

        def active() -> dict[str, Any] | None:
            s = cluster.get_json("server", "vm-image-1", "-n", "demo").get("status") or {}
            return s if s.get("status") == "ACTIVE" and s.get("taskState") is None else None

        s = waiting.until(active, what="vm-image-1 ACTIVE")
        assert s["imageSource"]["rootDisk"] == "vm-image-1-root"
        disk = cluster.get_json("datavolume", "vm-image-1-root", "-n", "demo")
        assert disk["status"]["phase"] == "Succeeded"
        assert disk["spec"]["storage"]["resources"]["requests"]["storage"] == "20Gi"  # m1.small's disk
    finally:
        unprotect(cluster)
        for folder in reversed(needed[1:]):
            cluster.kubectl("delete", "-f", str(folder), "--ignore-not-found", "--wait=false", check=False)
        cluster.kubectl("delete", "namespace", "demo", "--wait=false", check=False)


def attached(cluster: Cluster, server: str) -> list[str] | None:
    """The claims attached to a server of the demo namespace, once none is in flight."""
    proc = cluster.kubectl("get", "server", server, "-n", "demo", "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    s = json.loads(proc.stdout).get("status", {})
    entries = s.get("volumeAttachments") or []
    if s.get("taskState") or any(a.get("state") != "attached" for a in entries):
        return None
    return [a["id"] for a in entries]
