"""Images on the real control plane: an Image becomes active and Ready, lists like
`openstack image list`, and its source is immutable; servers boot Images by name, with Nova's
refusals (visibility, status, min disk and ram) at `kubectl apply` or as the server's fault."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import waiting

pytestmark = pytest.mark.integration

API = "compute.kubenova.io/v1alpha1"
CIRROS = "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"


def image(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Image",
        "metadata": {"name": name},
        "spec": {"source": {"containerDisk": CIRROS}, "visibility": "public", **spec},
    }


def status(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
    proc = cluster.kubectl(*args, check=False)
    result: dict[str, Any] = json.loads(proc.stdout).get("status", {}) if proc.returncode == 0 else {}
    return result


def test_an_image_becomes_active_and_lists_like_openstack_image_list(cluster: Cluster, operator: Operator) -> None:
    cluster.apply([image("it-cirros", diskFormat="qcow2", minDisk=1, minRam=64)])
    try:
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "image/it-cirros")
        s = status(cluster, "image", "it-cirros")
        assert s["status"] == "active"
        assert s["sourceType"] == "containerDisk"
        assert s["id"] == cluster.get_json("image", "it-cirros")["metadata"]["uid"]
        header = cluster.kubectl("get", "images", "it-cirros").stdout.splitlines()[0].split()
        assert header[:3] == ["NAME", "STATUS", "VISIBILITY"]
        assert "PROTECTED" in header
        cluster.kubectl("patch", "image", "it-cirros", "--type=merge", "-p", '{"spec":{"deactivated":true}}')
        waiting.until(lambda: status(cluster, "image", "it-cirros").get("status") == "deactivated", what="deactivated")
        refused = cluster.kubectl(
            "patch",
            "image",
            "it-cirros",
            "--type=merge",
            "-p",
            '{"spec":{"source":{"containerDisk":"quay.io/other:1"}}}',
            check=False,
        )
        assert refused.returncode != 0
        assert "source is immutable" in refused.stderr
    finally:
        cluster.kubectl("delete", "image", "it-cirros", "--ignore-not-found", check=False)
