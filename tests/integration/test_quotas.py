"""Quotas and tenancy on the real control plane, through the admission webhook and the
operator's own check under the scheduler's lock."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta

from hack.devcluster.cluster import Cluster, ClusterError
from hack.devcluster.operating import Operator
from kubenova.kube import resources
from tests import waiting

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHu9qTxq2d3o5o1sJbqXf0Qm6m3D7lQb4nS0a0m6kI0e it@kubenova"


@pytest.fixture(scope="module")
def flavors(cluster: Cluster) -> None:
    cluster.apply(
        [
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "q.one"}, "spec": {"vcpus": 1, "ram": 256}},
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "q.two"}, "spec": {"vcpus": 2, "ram": 1024}},
            {
                "apiVersion": API,
                "kind": "Flavor",
                "metadata": {"name": "q.private"},
                "spec": {"vcpus": 1, "ram": 256, "isPublic": False, "access": ["nobody-here"]},
            },
        ]
    )


def quota(cluster: Cluster, namespace: str, **limits: int) -> None:
    cluster.apply(
        [{"apiVersion": API, "kind": "Quota", "metadata": {"name": "default", "namespace": namespace}, "spec": limits}]
    )


def quota_status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(
        cluster.kubectl("get", "quota.compute.kubenova.io", "default", "-n", namespace, "-o", "json").stdout
    )
    return out.get("status") or {}


def server(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("image", "nginx:1.27")
    return {"apiVersion": API, "kind": "Server", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


async def create_all(cluster: Cluster, namespace: str, flavor: str, count: int) -> list[str]:
    """Create ``count`` Servers at once; return the admission refusals' messages."""
    refused: list[str] = []
    client = AsyncClient(config=_config(cluster), field_manager="it")

    async def one(i: int) -> None:
        body = resources.Server(
            metadata=ObjectMeta(name=f"s{i:02d}", namespace=namespace), spec={"flavor": flavor, "image": "nginx:1.27"}
        )
        try:
            await client.create(body)
        except ApiError as exc:
            refused.append(str(exc.status.message))

    try:
        await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        await client.close()
    return refused


def _config(cluster: Cluster) -> Any:
    from lightkube import KubeConfig

    return KubeConfig.from_file(str(cluster.kubeconfig))


def servers(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(cluster.kubectl("get", "servers", "-n", namespace, "-o", "json").stdout)[
        "items"
    ]
    return items


CASES = {  # resource: (quota, flavor, how many fit)
    "instances": ({"instances": 10}, "q.one", 10),
    "cores": ({"cores": 8}, "q.two", 4),
    "ram": ({"ram": 5120}, "q.two", 5),
}


@pytest.mark.usefixtures("operator", "flavors")
@pytest.mark.parametrize("resource", sorted(CASES))
def test_fifty_concurrent_creates_never_pass_the_limit(cluster: Cluster, namespace: str, resource: str) -> None:
    limits, flavor, fits = CASES[resource]
    quota(cluster, namespace, **limits)
    waiting.until(lambda: quota_status(cluster, namespace).get("absolute"), what="quota counted")
    refused = asyncio.run(create_all(cluster, namespace, flavor, 50))
    assert all(m.startswith("admission webhook") and f"Quota exceeded for {resource}" in m for m in refused), refused

    def settled() -> list[dict[str, Any]] | None:
        found = servers(cluster, namespace)
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
        lambda: (
            quota_status(cluster, namespace).get("resources", {}).get(resource, {}).get("inUse") == fits * per_server
        ),
        what="quota status shows the usage",
    )


@pytest.mark.usefixtures("operator", "flavors")
def test_usage_follows_creates_and_deletes_and_a_lower_limit_touches_no_server(
    cluster: Cluster, namespace: str
) -> None:
    quota(cluster, namespace, instances=3)
    cluster.apply([server("a", namespace, flavor="q.two"), server("b", namespace, flavor="q.one")])
    absolute = waiting.until(
        lambda: (a := quota_status(cluster, namespace).get("absolute")) and a["totalInstancesUsed"] == 2 and a,
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
    waiting.until(lambda: quota_status(cluster, namespace)["absolute"]["maxTotalInstances"] == 1, what="new limit")
    with pytest.raises(
        ClusterError, match="Quota exceeded for instances: Requested 1, but already used 2 of 1 instances"
    ):
        cluster.apply([server("c", namespace, flavor="q.one")])
    waiting.until(
        lambda: all((s.get("status") or {}).get("status") == "ACTIVE" for s in servers(cluster, namespace)),
        what="still ACTIVE",
    )

    cluster.kubectl("delete", "server", "a", "-n", namespace, "--timeout=30s")
    waiting.until(
        lambda: quota_status(cluster, namespace)["absolute"]["totalInstancesUsed"] == 1, what="usage after delete"
    )


@pytest.mark.usefixtures("operator", "flavors")
def test_other_namespaces_keypairs_groups_and_private_flavors_are_refused(cluster: Cluster, namespace: str) -> None:
    other = f"{namespace}-other"
    cluster.kubectl("create", "namespace", other)
    try:
        cluster.apply(
            [
                {
                    "apiVersion": API,
                    "kind": "Keypair",
                    "metadata": {"name": "theirs", "namespace": other},
                    "spec": {"publicKey": KEY},
                },
                {
                    "apiVersion": API,
                    "kind": "ServerGroup",
                    "metadata": {"name": "theirs", "namespace": other},
                    "spec": {"policy": "anti-affinity"},
                },
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
    finally:
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)


@pytest.mark.usefixtures("operator")
def test_keypair_server_group_and_metadata_quotas(cluster: Cluster, namespace: str, flavors: None) -> None:
    quota(cluster, namespace, keyPairs=1, serverGroups=1, metadataItems=2)
    waiting.until(lambda: quota_status(cluster, namespace).get("absolute"), what="quota counted")

    def keypair(name: str) -> dict[str, Any]:
        return {
            "apiVersion": API,
            "kind": "Keypair",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"publicKey": KEY},
        }

    def group(name: str) -> dict[str, Any]:
        return {
            "apiVersion": API,
            "kind": "ServerGroup",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"policy": "affinity"},
        }

    cluster.apply([keypair("one"), group("one")])
    waiting.until(
        lambda: (
            quota_status(cluster, namespace)["absolute"]["totalServerGroupsUsed"] == 1
            and quota_status(cluster, namespace)["resources"]["key_pairs"]["inUse"] == 1
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
    cluster: Cluster, operator: Operator, namespace: str
) -> None:
    quota(cluster, namespace, instances=1)
    cluster.apply([server("first", namespace, flavor="q.one")])
    waiting.until(
        lambda: all((s.get("status") or {}).get("status") == "ACTIVE" for s in servers(cluster, namespace)),
        what="first ACTIVE",
    )
    operator.kill()
    try:
        # failurePolicy: Ignore: the API server cannot reach the webhook and lets the create through.
        cluster.apply([server("second", namespace, flavor="q.one")])
    finally:
        operator.start()

    def second() -> dict[str, Any] | None:
        s = next((x for x in servers(cluster, namespace) if x["metadata"]["name"] == "second"), None)
        return s if s and (s.get("status") or {}).get("status") == "ERROR" else None

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
        st: dict[str, Any] = (next(iter(servers(cluster, namespace)), {}) or {}).get("status") or {}
        return st if st.get("status") == "ACTIVE" else None

    st = waiting.until(built, what="second accepted once first is gone")
    assert "fault" not in st
    assert [a["action"] for a in st["actions"]] == ["create", "create"]  # refused, then built
