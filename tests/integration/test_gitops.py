"""GitOps safety: the operator never writes a user's spec, so re-applying the same manifest is a
no-op, `kubectl diff` shows nothing, and `kubectl wait --for=condition=Ready` works."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from hack.devcluster.cluster import Cluster

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"


def manifests(namespace: str) -> str:
    docs: list[dict[str, Any]] = [
        {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "gitops.small"}, "spec": {"vcpus": 1, "ram": 512}},
        {
            "apiVersion": API,
            "kind": "Server",
            "metadata": {"name": "app", "namespace": namespace},
            "spec": {"flavor": "gitops.small", "image": "nginx:1.27", "backend": "container"},
        },
        {
            "apiVersion": API,
            "kind": "Server",
            "metadata": {"name": "vm", "namespace": namespace},
            "spec": {"flavor": "gitops.small", "image": "quay.io/containerdisks/fedora:40", "backend": "kubevirt"},
        },
    ]
    return yaml.safe_dump_all(docs)


@pytest.mark.usefixtures("operator")
def test_reapplying_after_reconcile_changes_nothing(cluster: Cluster, namespace: str) -> None:
    text = manifests(namespace)
    apply = ("apply", "--server-side", "--field-manager=gitops", "-f", "-")
    cluster.kubectl(*apply, input=text)
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "server/app", "server/vm", "-n", namespace)

    def versions() -> dict[str, str]:
        got = json.loads(cluster.kubectl("get", "servers", "-n", namespace, "-o", "json").stdout)["items"]
        return {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in got}

    before = versions()
    out = cluster.kubectl(*apply, input=text).stdout
    assert versions() == before, out  # the API server stored nothing: the same spec, owned by the same manager
    diff = cluster.kubectl("diff", "--server-side", "--field-manager=gitops", "-f", "-", input=text, check=False)
    assert diff.returncode == 0, diff.stdout + diff.stderr

    # The operator's fields: status and its finalizer, never spec.
    for name in ("app", "vm"):
        server = json.loads(
            cluster.kubectl("get", "server", name, "-n", namespace, "-o", "json", "--show-managed-fields").stdout
        )
        for entry in server["metadata"]["managedFields"]:
            if entry["manager"] == "gitops":
                continue
            owned = entry.get("fieldsV1", {})
            assert "f:spec" not in owned, entry
            if entry.get("subresource") != "status":
                assert set(owned) <= {"f:metadata"}, entry
                assert set(owned.get("f:metadata", {})) <= {"f:finalizers"}, entry
