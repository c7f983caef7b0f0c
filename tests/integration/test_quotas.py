"""Quotas and tenancy on the real control plane, through the admission webhook and the
operator's own check under the scheduler's lock."""

from __future__ import annotations

import re
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster, ClusterError
from hack.devcluster.operating import Operator
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHu9qTxq2d3o5o1sJbqXf0Qm6m3D7lQb4nS0a0m6kI0e it@kubenova"


@pytest.fixture(scope="module")
def flavors(module_made: Made) -> None:
    module_made.apply(
        [
            k.flavor("q.one", vcpus=1, ram=256),
            k.flavor("q.two", vcpus=2, ram=1024),
            k.flavor("q.private", vcpus=1, ram=256, isPublic=False, access=["nobody-here"]),
        ]
    )


def quota(cluster: Cluster, namespace: str, **limits: int) -> None:
    cluster.apply([k.manifest("Quota", "default", namespace, **limits)])


def quota_status(kube: Client, namespace: str) -> dict[str, Any]:
    return k.status(kube, "quota", "default", namespace)


def server(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("image", "nginx:1.27")
    return k.server(name, namespace, **spec)


CASES = {  # resource: (quota, flavor, how many fit)
    "instances": ({"instances": 10}, "q.one", 10),
    "cores": ({"cores": 8}, "q.two", 4),
    "ram": ({"ram": 5120}, "q.two", 5),
}


@pytest.mark.usefixtures("operator", "flavors")
@pytest.mark.parametrize("resource", sorted(CASES))
def test_fifty_concurrent_creates_never_pass_the_limit(
    cluster: Cluster, kube: Client, namespace: str, resource: str
) -> None:
    limits, flavor, fits = CASES[resource]
    quota(cluster, namespace, **limits)
    waiting.until(lambda: quota_status(kube, namespace).get("absolute"), what="quota counted")
    refused = k.create_all(cluster.kubeconfig, namespace, 50, flavor=flavor, image="nginx:1.27")
    assert all(m.startswith("admission webhook") and f"Quota exceeded for {resource}" in m for m in refused), refused

    def settled() -> list[dict[str, Any]] | None:
        found = k.items(kube, "server", namespace)
        done = all((s.get("status") or {}).get("status") in ("ACTIVE", "ERROR") for s in found)
        return found if done and len(found) == 50 - len(refused) else None

    found = waiting.until(settled, timeout=90, what="every admitted server settled")
    active = [s for s in found if s["status"]["status"] == "ACTIVE"]
    errors = [s for s in found if s["status"]["status"] == "ERROR"]
    assert len(active) == fits
    assert len(active) + len(errors) + len(refused) == 50
    for s in errors:
        assert s["status"]["fault"]["code"] == 403
        assert s["status"]["fault"]["message"].startswith(f"Quota exceeded for {resource}: Requested ")
        assert "flavor" not in s["status"]  # holds no quota

    per_server = {"instances": 1, "cores": 2, "ram": 1024}[resource]  # q.two for cores and ram
    waiting.until(
        lambda: quota_status(kube, namespace).get("resources", {}).get(resource, {}).get("inUse") == fits * per_server,
        what="quota status shows the usage",
    )


@pytest.mark.usefixtures("operator", "flavors")
def test_usage_follows_creates_and_deletes_and_a_lower_limit_touches_no_server(
    cluster: Cluster, kube: Client, namespace: str
) -> None:
    quota(cluster, namespace, instances=3)
    cluster.apply([server("a", namespace, flavor="q.two"), server("b", namespace, flavor="q.one")])
    absolute = waiting.until(
        lambda: (a := quota_status(kube, namespace).get("absolute")) and a["totalInstancesUsed"] == 2 and a,
        what="usage of two servers",
    )
    assert absolute == {
        "maxTotalInstances": 3,
        "totalInstancesUsed": 2,
        "maxTotalCores": 20,
        "totalCoresUsed": 3,
        "maxTotalRAMSize": 51200,
        "totalRAMUsed": 1280,
        "maxTotalKeypairs": 100,
        "maxServerMeta": 128,
        "maxServerGroups": 10,
        "totalServerGroupsUsed": 0,
        "maxServerGroupMembers": 10,
    }
    printed = cluster.kubectl("get", "quota.compute.kubenova.io", "-n", namespace).stdout
    assert "2" in printed.splitlines()[1]

    quota(cluster, namespace, instances=1)  # below usage: nothing running is touched
    # In effect once the operator has seen it, which its status shows.
    waiting.until(lambda: quota_status(kube, namespace)["absolute"]["maxTotalInstances"] == 1, what="new limit")
    with pytest.raises(
        ClusterError, match="Quota exceeded for instances: Requested 1, but already used 2 of 1 instances"
    ):
        cluster.apply([server("c", namespace, flavor="q.one")])
    waiting.until(
        lambda: all((s.get("status") or {}).get("status") == "ACTIVE" for s in k.items(kube, "server", namespace)),
        what="still ACTIVE",
    )

    cluster.kubectl("delete", "server", "a", "-n", namespace, "--timeout=30s")
    waiting.until(
        lambda: quota_status(kube, namespace)["absolute"]["totalInstancesUsed"] == 1, what="usage after delete"
    )


@pytest.mark.usefixtures("operator", "flavors")
def test_other_namespaces_keypairs_groups_and_private_flavors_are_refused(
    cluster: Cluster, namespace: str, made: Made
) -> None:
    other = made.namespace(f"{namespace}-other")
    cluster.apply(
        [
            k.manifest("Keypair", "theirs", other, publicKey=KEY),
            k.manifest("ServerGroup", "theirs", other, policy="anti-affinity"),
        ]
    )
    cases = {
        "Invalid key_name provided: Keypair theirs not found in": server(
            "k", namespace, flavor="q.one", keyName="theirs"
        ),
        "Server group theirs could not be found in": server(
            "g", namespace, flavor="q.one", schedulerHints={"group": "theirs"}
        ),
        f"Flavor q.private is private and namespace {namespace} is not on its access list.": server(
            "p", namespace, flavor="q.private"
        ),
    }
    for message, manifest in cases.items():
        with pytest.raises(ClusterError, match=re.escape(message)):
            cluster.apply([manifest])


@pytest.mark.usefixtures("operator")
def test_keypair_server_group_and_metadata_quotas(
    cluster: Cluster, kube: Client, namespace: str, flavors: None
) -> None:
    quota(cluster, namespace, keyPairs=1, serverGroups=1, metadataItems=2)
    waiting.until(lambda: quota_status(kube, namespace).get("absolute"), what="quota counted")

    def keypair(name: str) -> dict[str, Any]:
        return k.manifest("Keypair", name, namespace, publicKey=KEY)

    def group(name: str) -> dict[str, Any]:
        return k.manifest("ServerGroup", name, namespace, policy="affinity")

    cluster.apply([keypair("one"), group("one")])
    waiting.until(
        lambda: (
            quota_status(kube, namespace)["absolute"]["totalServerGroupsUsed"] == 1
            and quota_status(kube, namespace)["resources"]["key_pairs"]["inUse"] == 1
        ),
        what="keypair and group counted",
    )
    with pytest.raises(ClusterError, match=re.escape("Quota exceeded, too many key pairs.")):
        cluster.apply([keypair("two")])
    with pytest.raises(ClusterError, match=re.escape("Quota exceeded, too many server groups.")):
        cluster.apply([group("two")])
    with pytest.raises(ClusterError, match=re.escape("Maximum number of metadata items exceeds 2")):
        cluster.apply([server("m", namespace, flavor="q.one", metadata={"a": "1", "b": "2", "c": "3"})])


@pytest.mark.usefixtures("flavors")
def test_with_the_webhook_down_apply_works_and_the_operator_still_enforces(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str
) -> None:
    quota(cluster, namespace, instances=1)
    cluster.apply([server("first", namespace, flavor="q.one")])
    waiting.until(
        lambda: all((s.get("status") or {}).get("status") == "ACTIVE" for s in k.items(kube, "server", namespace)),
        what="first ACTIVE",
    )
    operator.kill()
    try:
        # failurePolicy: Ignore: the API server cannot reach the webhook and lets the create through.
        cluster.apply([server("second", namespace, flavor="q.one")])
    finally:
        operator.start()

    def second() -> dict[str, Any] | None:
        s = k.get(kube, "server", "second", namespace)
        return s if (s.get("status") or {}).get("status") == "ERROR" else None

    s = waiting.until(second, what="second refused by the operator")
    assert s["status"]["fault"]["code"] == 403
    assert (
        s["status"]["fault"]["message"]
        == "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"
    )

    # Room again: the refused server is accepted by itself, as a Deployment's Pods are once a
    # ResourceQuota allows them (a GitOps pipeline need not delete and re-apply it).
    cluster.kubectl("delete", "server", "first", "-n", namespace, "--timeout=30s")

    def built() -> dict[str, Any] | None:
        st: dict[str, Any] = (next(iter(k.items(kube, "server", namespace)), {}) or {}).get("status") or {}
        return st if st.get("status") == "ACTIVE" else None

    st = waiting.until(built, what="second accepted once first is gone")
    assert "fault" not in st
    assert [a["action"] for a in st["actions"]] == ["create", "create"]  # refused, then built
