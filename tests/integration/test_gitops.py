"""GitOps safety: the operator never writes a user's spec, so re-applying the same manifest is a
no-op, `kubectl diff` shows nothing, and `kubectl wait --for=condition=Ready` works."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from lightkube import Client

from hack.devcluster.cluster import Cluster
from tests import kube as k
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration


def manifests(namespace: str) -> list[dict[str, Any]]:
    return [
        k.flavor("gitops.small", vcpus=1, ram=512),
        k.server("app", namespace, flavor="gitops.small", image="nginx:1.27", backend="container"),
        k.server("vm", namespace, flavor="gitops.small", image="quay.io/containerdisks/fedora:40", backend="kubevirt"),
    ]


@pytest.mark.usefixtures("operator")
def test_reapplying_after_reconcile_changes_nothing(cluster: Cluster, kube: Client, namespace: str, made: Made) -> None:
    docs = manifests(namespace)
    made.track("flavor", "gitops.small")
    text = yaml.safe_dump_all(docs)
    apply = ("apply", "--server-side", "--field-manager=gitops", "-f", "-")
    cluster.kubectl(*apply, input=text)
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "server/app", "server/vm", "-n", namespace)

    def versions() -> dict[str, str]:
        got = k.items(kube, "server", namespace)
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
