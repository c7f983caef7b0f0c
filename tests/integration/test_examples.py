"""Each example folder does what examples/README.md says it shows. A test per folder applies it
(`kubectl apply -f <folder>`, as a user would) after the folders it builds on, checks its
promise, and removes what it made: the `demo` namespace (its servers with it) and the
cluster-scoped Flavors and Aggregate, waiting until they are gone and the hosts are back in
zone "nova", so the next test (an example's or any other) finds the cluster as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client

from hack.devcluster import installing
from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
FOLDERS = {f.name[:2]: f for f in installing.example_folders()}
# The folders each one builds on (the README applies them in order; these are the ones it needs).
NEEDS = {
    "00": (),
    "01": (),
    "02": ("00",),
    "03": ("00", "01", "02"),
    "04": ("00", "01", "02"),
    "05": ("00", "01", "02", "03", "04"),  # the quota counts the servers of 03 and 04
    "06": (),
    "07": ("00", "01"),
    "08": ("00", "01", "02"),
    "09": ("00", "01"),
    "10": ("00", "01"),
}
Apply = Callable[[str], Path]


def test_every_example_folder_is_numbered_in_order_and_has_a_test() -> None:
    assert list(FOLDERS) == [f"{i:02d}" for i in range(len(FOLDERS))]
    assert set(FOLDERS) == set(NEEDS)


@pytest.fixture
def example(cluster: Cluster, operator: Operator, made: Made) -> Apply:
    """Apply an example folder after those it needs; its folder. ``made`` removes, when the test
    ends, every object without a namespace that the folders declare (the `demo` namespace among
    them, so its objects go too)."""

    def apply(number: str) -> Path:
        for folder in (FOLDERS[n] for n in (*NEEDS[number], number)):
            for doc in (d for f in sorted(folder.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d):
                if not doc["metadata"].get("namespace"):
                    made.track(doc["kind"].lower(), doc["metadata"]["name"])
            cluster.kubectl("apply", "-f", str(folder))
        return FOLDERS[number]

    return apply


def declared(folder: Path, kind: str) -> list[str]:
    """Names of the objects of ``kind`` that the folder's manifests declare."""
    docs = (d for f in sorted(folder.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d)
    return [d["metadata"]["name"] for d in docs if d["kind"] == kind]


def ready(s: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions", []))


def test_00_the_namespace_is_the_project(kube: Client, example: Apply) -> None:
    example("00")
    assert k.get(kube, "namespace", "demo")["status"]["phase"] == "Active"


def test_01_the_flavors_become_ready_and_one_is_private_to_demo(kube: Client, example: Apply) -> None:
    folder = example("01")
    names = declared(folder, "Flavor")
    assert names == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "c1.ssd"]
    for name in names:
        k.wait_for(kube, "flavor", name, check=ready, what=f"flavor {name} Ready")
    private = k.get(kube, "flavor", "c1.ssd")["spec"]
    assert (private["isPublic"], private["access"]) == (False, ["demo"])


def test_02_an_imported_and_a_generated_keypair(kube: Client, example: Apply) -> None:
    example("02")
    imported = k.wait_for(kube, "keypair", "demo-imported", "demo", check=ready, what="demo-imported Ready")
    assert imported["fingerprint"]
    assert imported["fingerprintSha256"].startswith("SHA256:")
    assert "privateKeySecretRef" not in imported
    generated = k.wait_for(kube, "keypair", "demo-generated", "demo", check=ready, what="demo-generated Ready")
    assert generated["privateKeySecretRef"] == {"name": "keypair-demo-generated"}
    assert k.get(kube, "secret", "keypair-demo-generated", "demo")["type"] == "kubernetes.io/ssh-auth"


def test_03_a_server_runs_as_a_pod(kube: Client, example: Apply) -> None:
    example("03")
    s = k.Srv(kube, "demo", "web-1").wait("ACTIVE", timeout=60)
    assert (s["powerState"], s["flavor"]["originalName"]) == ("RUNNING", "m1.small")
    pod = k.get(kube, "pod", "web-1", "demo")
    assert pod["spec"]["nodeName"] == s["host"]


def test_04_a_server_runs_as_a_kubevirt_vm_with_user_data(kube: Client, example: Apply) -> None:
    example("04")
    s = k.Srv(kube, "demo", "vm-1").wait("ACTIVE", timeout=60)
    assert (s["powerState"], s["flavor"]["originalName"]) == ("RUNNING", "m1.medium")
    assert k.get(kube, "virtualmachine", "vm-1", "demo")
    assert k.get(kube, "secret", "vm-1-user-data", "demo")["data"]["userdata"] == (
        "I2Nsb3VkLWNvbmZpZwpwYWNrYWdlczogW2h0b3BdCg=="
    )


def test_05_the_quota_counts_the_projects_servers(kube: Client, example: Apply) -> None:
    example("05")
    for name in ("web-1", "vm-1"):
        k.Srv(kube, "demo", name).wait("ACTIVE", timeout=60)

    def counted(s: dict[str, Any]) -> bool:
        return bool((s.get("absolute") or {}).get("totalInstancesUsed") == 2)

    absolute = k.wait_for(kube, "quota", "default", "demo", check=counted, what="the quota counts 2 servers")[
        "absolute"
    ]
    assert (absolute["maxTotalInstances"], absolute["maxTotalCores"], absolute["maxTotalRAMSize"]) == (20, 40, 102400)
    assert (absolute["totalCoresUsed"], absolute["totalRAMUsed"]) == (1 + 2, 2048 + 4096)  # m1.small + m1.medium
    assert absolute["maxTotalKeypairs"] == 10


def test_06_an_aggregate_makes_an_availability_zone(cluster: Cluster, kube: Client, example: Apply) -> None:
    folder = example("06")
    for host in ("compute-0", "compute-1"):
        k.wait_for(kube, "host", host, check=lambda s: s.get("availabilityZone") == "az-ssd", what=f"{host} in az-ssd")
    agg = k.wait_for(kube, "aggregate", "ssd-hosts", check=lambda s: s.get("hosts"), what="aggregate status")
    assert (agg["hosts"], agg["availabilityZone"], agg["missingHosts"]) == (["compute-0", "compute-1"], "az-ssd", [])
    assert k.status(kube, "host", "compute-2")["availabilityZone"] == "nova"
    # And the zone goes with the aggregate.
    cluster.kubectl("delete", "-f", str(folder))
    waiting.until(
        lambda: k.status(kube, "host", "compute-0").get("availabilityZone") == "nova", what="compute-0 back in nova"
    )


def test_07_an_anti_affinity_group_keeps_two_servers_apart(kube: Client, example: Apply) -> None:
    example("07")
    hosts = {name: k.Srv(kube, "demo", name).wait("ACTIVE", timeout=60)["host"] for name in ("db-a", "db-b")}
    assert hosts["db-a"] != hosts["db-b"]
    group = k.wait_for(
        kube, "servergroup", "db-spread", "demo", check=lambda s: s.get("memberCount") == 2, what="two members"
    )
    assert sorted(group["hosts"]) == sorted(hosts.values())


def test_08_images_are_listed_and_a_server_boots_one_on_a_persistent_root_disk(
    cluster: Cluster, kube: Client, example: Apply
) -> None:
    try:
        example("08")
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "images", "--all")
        listed = cluster.kubectl("get", "images").stdout
        for name in ("cirros-0.6", "fedora-41", "demo-golden", "team-base"):
            assert name in listed
        golden = k.get(kube, "image", "demo-golden")
        assert (golden["spec"]["visibility"], golden["spec"]["owner"], golden["status"]["status"]) == (
            "private",
            "demo",
            "active",
        )
        s = k.Srv(kube, "demo", "vm-image-1").wait("ACTIVE", timeout=60)
        assert s["imageSource"]["rootDisk"] == "vm-image-1-root"
        disk = k.get(kube, "datavolume", "vm-image-1-root", "demo")
        assert disk["status"]["phase"] == "Succeeded"
        assert disk["spec"]["storage"]["resources"]["requests"]["storage"] == "20Gi"  # m1.small's disk
    finally:
        # A protected Image cannot be deleted (Glance's rule): unprotect it before it is removed.
        patch = '{"spec":{"protected":false}}'
        cluster.kubectl("patch", "image", "demo-golden", "--type=merge", "-p", patch, check=False)


def test_09_volumes_are_attached_to_a_vm_and_a_shared_one_to_a_container(kube: Client, example: Apply) -> None:
    example("09")

    def attached(s: dict[str, Any]) -> list[str] | None:
        entries = s.get("volumeAttachments") or []
        if s.get("status") != "ACTIVE" or s.get("taskState") or any(a.get("state") != "attached" for a in entries):
            return None
        return [a["id"] for a in entries]

    vm = k.wait_for(kube, "server", "db-1", "demo", check=attached, what="db-1's volumes attached")
    assert attached(vm) == ["db-data", "shared-media"]
    web = k.wait_for(kube, "server", "web-media", "demo", check=attached, what="web-media's volume attached")
    assert attached(web) == ["shared-media"]


def test_10_security_groups_become_network_policies_over_their_members(kube: Client, example: Apply) -> None:
    example("10")
    for name in ("web-net", "db-net"):
        k.Srv(kube, "demo", name).wait("ACTIVE", timeout=60)
    for group in ("web", "db", "default"):
        k.wait_for(kube, "securitygroup", group, "demo", check=ready, what=f"security group {group}")
    db = k.get(kube, "networkpolicy", "securitygroup-db", "demo")["spec"]
    assert db["podSelector"] == {"matchLabels": {"securitygroup.compute.kubenova.io/db": ""}}
    assert db["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"securitygroup.compute.kubenova.io/web": ""}}}]
    pod = k.get(kube, "pod", "web-net", "demo")
    assert {"securitygroup.compute.kubenova.io/web", "securitygroup.compute.kubenova.io/default"} <= set(
        pod["metadata"]["labels"]
    )
    assert '"name":"storage"' in pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]
