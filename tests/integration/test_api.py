"""The API as `kubectl` users meet it: invalid manifests refused with a clear message, lists that
read like the openstack CLI's, and `kubectl explain` that explains."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hack.devcluster.cluster import Cluster
from tests import kube as k

pytestmark = pytest.mark.integration

INVALID = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"
FIXTURES = sorted(INVALID.glob("*.yaml"))


def expected(path: Path) -> str:
    return next(
        line.removeprefix("# expect: ") for line in path.read_text().splitlines() if line.startswith("# expect: ")
    )


def test_there_are_at_least_fifteen_invalid_fixtures() -> None:
    assert len(FIXTURES) >= 15


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_kubectl_apply_refuses_invalid_manifests_with_a_clear_message(
    cluster: Cluster, namespace: str, path: Path
) -> None:
    documents = path.read_text().split("\n---\n")
    *setup, invalid = documents
    for doc in setup:  # update fixtures: a valid object first, then the refused change
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=doc)
    try:
        proc = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=invalid, check=False)
        assert proc.returncode != 0, f"{path.name} was accepted"
        assert expected(path) in proc.stderr, proc.stderr
    finally:
        obj = yaml.safe_load(invalid)
        cluster.kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace, check=False)


def test_kubectl_get_kubenova_lists_every_kind_with_openstack_like_columns(cluster: Cluster, namespace: str) -> None:
    cluster.apply([k.server("columns", namespace, flavor="m1.tiny", image="nginx:1.27", state="stopped")])
    header = cluster.kubectl("get", "servers", "-n", namespace).stdout.splitlines()[0].split()
    assert header[:7] == ["NAME", "STATUS", "TASK", "STATE", "POWER", "STATE", "NETWORKS"]
    assert "FLAVOR" in header
    for short in ("flv", "kp", "srv", "sact", "qs", "agg", "hv", "sg"):
        assert cluster.kubectl("get", short, "-A", check=False).returncode == 0, short
    assert "server.compute.kubenova.io/columns" in cluster.kubectl("get", "kubenova", "-n", namespace).stdout


def test_kubectl_explain_describes_fields(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "server.spec.state").stdout
    assert "shelved_offloaded" in out
    assert "Nova's allowed transitions" in out
    assert "os-flavor-access" in cluster.kubectl("explain", "flavor.spec.access").stdout
