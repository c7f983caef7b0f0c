"""RBAC negatives, tested not assumed (issue 15, section 3).

The chart's ClusterRoles (rendered by helm, applied with a release name of this test's own, and
removed after) are in force, aggregated into the cluster's ``view`` and ``edit``. Each refusal is
asked twice: ``kubectl auth can-i --as=<the ServiceAccount>`` says no, and a real request made
with that ServiceAccount's own token (TokenRequest) is refused with 403 Forbidden; each subject
is first shown to be allowed what it should be, so a refusal is not a broken token.

- A tenant with ``edit`` in namespace A cannot read namespace B's keypair Secret, Servers or
  Quota.
- A tenant with only ``view`` cannot create a ServerAction (nor a Server, nor read a Secret).
- The operator's ServiceAccount, bound to the chart's ClusterRoles, is refused what they do not
  name: listing Secrets anywhere, deleting a Node or a Secret, creating a ClusterRole or a
  RoleBinding, creating or deleting Servers, writing a Keypair or a Quota, impersonating.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.devcluster import building
from hack.devcluster.cluster import Cluster
from tests import waiting

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"
CHART = Path(__file__).resolve().parents[2] / "charts" / "kubenova"
CLUSTER_SCOPED = ("ClusterRole", "ClusterRoleBinding")


def run(argv: list[str], *, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=60, check=False)


class Subject:
    """A ServiceAccount, asked about (``auth can-i --as``) and acting (its own token)."""

    def __init__(self, cluster: Cluster, namespace: str, name: str, kubeconfig: Path) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.user = f"system:serviceaccount:{namespace}:{name}"
        self.kubeconfig = cluster.service_account_kubeconfig(namespace, name, kubeconfig, hours=1)

    def can(self, verb: str, resource: str, namespace: str | None) -> bool:
        scope = ["-n", namespace] if namespace else ["--all-namespaces"]
        proc = self.cluster.kubectl("auth", "can-i", verb, resource, f"--as={self.user}", *scope, check=False)
        answer = proc.stdout.strip()
        assert answer in ("yes", "no"), proc.stderr
        return answer == "yes"

    def kubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run([str(building.binary("kubectl")), f"--kubeconfig={self.kubeconfig}", *args], input=input)

    def refused(self, *args: str, input: str | None = None) -> str:
        """Run a real request; it must fail with the API server's 403 Forbidden."""
        proc = self.kubectl(*args, input=input)
        assert proc.returncode != 0, f"{self.user} was allowed: kubectl {' '.join(args)}\n{proc.stdout}"
        assert "Forbidden" in proc.stderr or "forbidden" in proc.stderr, proc.stderr
        assert self.user in proc.stderr, proc.stderr  # refused as this subject, not as someone else
        return proc.stderr

    def allowed(self, *args: str, input: str | None = None) -> str:
        proc = self.kubectl(*args, input=input)
        assert proc.returncode == 0, f"{self.user}: kubectl {' '.join(args)}: {proc.stderr}"
        return proc.stdout


def manifest(kind: str, name: str, namespace: str, **fields: Any) -> str:
    return json.dumps({"apiVersion": API, "kind": kind, "metadata": {"name": name, "namespace": namespace}, **fields})


@pytest.fixture
def world(cluster: Cluster, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Namespaces A and B, the chart's roles (release of our own), a tenant with ``edit`` in A,
    a reader with ``view`` in A and the chart's operator ServiceAccount; all removed after."""
    building.ensure_all((building.HELM,))  # built once by `make tools`
    tag = uuid.uuid4().hex[:6]
    a, b, release = f"rbac-a-{tag}", f"rbac-b-{tag}", f"kubenova-rbac-{tag}"
    rendered = run(
        [str(building.binary("helm")), "template", release, str(CHART), "-n", a, "--set", "webhook.enabled=false"]
    )
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d and d["kind"] in (*CLUSTER_SCOPED, "ServiceAccount")]
    roles = [d for d in docs if d["kind"] in CLUSTER_SCOPED]
    assert {d["metadata"]["name"] for d in roles} >= {f"{release}-edit", f"{release}-view", f"{release}-api"}
    operator_sa = next(d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount")
    for ns in (a, b):
        cluster.kubectl("create", "namespace", ns)
    try:
        cluster.apply(docs)
        for name, role in (("alice", "edit"), ("viewer", "view")):
            cluster.kubectl("create", "serviceaccount", name, "-n", a)
            cluster.kubectl(
                "create", "rolebinding", name, "-n", a, f"--clusterrole={role}", f"--serviceaccount={a}:{name}"
            )
        # B's keypair Secret, as the operator would have made it.
        cluster.kubectl(
            "create", "secret", "generic", "keypair-victim", "-n", b, "--type=kubernetes.io/ssh-auth",
            "--from-literal=ssh-privatekey=-----BEGIN OPENSSH PRIVATE KEY-----",
        )  # fmt: skip
        yield {
            "a": a,
            "b": b,
            "alice": Subject(cluster, a, "alice", tmp_path / "alice.kubeconfig"),
            "viewer": Subject(cluster, a, "viewer", tmp_path / "viewer.kubeconfig"),
            "operator": Subject(cluster, a, operator_sa, tmp_path / "operator.kubeconfig"),
        }
    finally:
        for d in roles:
            cluster.kubectl("delete", d["kind"].lower(), d["metadata"]["name"], "--ignore-not-found", check=False)
        for ns in (a, b):
            cluster.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)


def wait_aggregated(subject: Subject, verb: str, resource: str, namespace: str) -> None:
    """The cluster's aggregation controller folds the chart's roles into view and edit."""
    waiting.until(lambda: subject.can(verb, resource, namespace), timeout=30, what=f"{subject.name} {verb} {resource}")


def test_a_tenant_with_edit_in_one_namespace_cannot_read_anothers(world: dict[str, Any]) -> None:
    a, b, alice = world["a"], world["b"], world["alice"]
    wait_aggregated(alice, "create", "servers.compute.kubenova.io", a)
    # Allowed at home: the token works, and edit reaches kubenova's kinds and Secrets.
    alice.allowed("get", "servers.compute.kubenova.io", "-n", a)
    alice.allowed("get", "secrets", "-n", a)
    alice.allowed("get", "quotas.compute.kubenova.io", "-n", a)
    for verb, resource in [
        ("get", "secrets"),
        ("list", "secrets"),
        ("get", "servers.compute.kubenova.io"),
        ("create", "servers.compute.kubenova.io"),
        ("get", "quotas.compute.kubenova.io"),
        ("get", "keypairs.compute.kubenova.io"),
        ("create", "serveractions.compute.kubenova.io"),
    ]:
        assert not alice.can(verb, resource, b), f"alice may {verb} {resource} in {b}"
    alice.refused("get", "secret", "keypair-victim", "-n", b)
    alice.refused("get", "servers.compute.kubenova.io", "-n", b)
    alice.refused("get", "quotas.compute.kubenova.io", "-n", b)
    alice.refused("get", "keypairs.compute.kubenova.io", "-n", b)
    body = manifest("Server", "intruder", b, spec={"flavor": "m1.small", "image": "nginx:1.27"})
    alice.refused("create", "--dry-run=server", "-f", "-", input=body)
    # Not even in A may a tenant set its own Quota: edit leaves quotas to cluster admins.
    assert not alice.can("create", "quotas.compute.kubenova.io", a)
    alice.refused("create", "--dry-run=server", "-f", "-", input=manifest("Quota", "mine", a, spec={}))


def test_a_viewer_cannot_create_a_server_action(world: dict[str, Any]) -> None:
    a, viewer = world["a"], world["viewer"]
    wait_aggregated(viewer, "get", "serveractions.compute.kubenova.io", a)
    viewer.allowed("get", "serveractions.compute.kubenova.io,servers.compute.kubenova.io", "-n", a)
    for verb, resource in [
        ("create", "serveractions.compute.kubenova.io"),
        ("create", "servers.compute.kubenova.io"),
        ("patch", "servers.compute.kubenova.io"),
        ("delete", "servers.compute.kubenova.io"),
        ("get", "secrets"),
    ]:
        assert not viewer.can(verb, resource, a), f"viewer may {verb} {resource}"
    action = manifest("ServerAction", "reboot-it", a, spec={"server": "s1", "action": "reboot"})
    viewer.refused("create", "--dry-run=server", "-f", "-", input=action)
    viewer.refused("create", "--dry-run=server", "-f", "-", input=manifest("Server", "s2", a, spec={"flavor": "x"}))
    viewer.refused("get", "secrets", "-n", a)


def test_the_operators_service_account_is_refused_outside_its_roles(cluster: Cluster, world: dict[str, Any]) -> None:
    op, b = world["operator"], world["b"]
    # What its roles name, it may: the token is good.
    op.allowed("get", "servers.compute.kubenova.io", "--all-namespaces")
    op.allowed("get", "nodes")
    assert op.can("get", "secrets", b)  # by name, for keypairs and user data
    assert op.can("patch", "servers.compute.kubenova.io", b)  # its finalizer (RBAC cannot tell spec from metadata)
    node = cluster.get_json("nodes")["items"][0]["metadata"]["name"]
    refusals: list[tuple[tuple[str, str, str | None], list[str], str | None]] = [
        (("list", "secrets", None), ["get", "secrets", "--all-namespaces"], None),
        (("list", "secrets", "kube-system"), ["get", "secrets", "-n", "kube-system"], None),
        (("delete", "secrets", b), ["delete", "secret", "keypair-victim", "-n", b, "--dry-run=server"], None),
        (("delete", "nodes", None), ["delete", "node", node, "--dry-run=server"], None),
        (
            ("create", "clusterroles", None),
            ["create", "clusterrole", "x", "--verb=*", "--resource=*", "--dry-run=server"],
            None,
        ),
        (
            ("create", "rolebindings", b),
            ["create", "rolebinding", "x", "-n", b, "--clusterrole=admin", "--user=x", "--dry-run=server"],
            None,
        ),
        (
            ("create", "servers.compute.kubenova.io", b),
            ["create", "--dry-run=server", "-f", "-"],
            manifest("Server", "rogue", b, spec={"flavor": "x", "image": "nginx:1.27"}),
        ),
        (
            ("delete", "servers.compute.kubenova.io", b),
            ["delete", "servers.compute.kubenova.io", "ghost", "-n", b, "--dry-run=server"],
            None,
        ),
        (
            ("create", "keypairs.compute.kubenova.io", b),
            ["create", "--dry-run=server", "-f", "-"],
            manifest("Keypair", "rogue", b, spec={}),
        ),
        (
            ("create", "quotas.compute.kubenova.io", b),
            ["create", "--dry-run=server", "-f", "-"],
            manifest("Quota", "rogue", b, spec={}),
        ),
        (("create", "configmaps", b), ["create", "configmap", "x", "-n", b, "--dry-run=server"], None),
        (("impersonate", "users", None), ["get", "pods", "-n", b, "--as=system:admin"], None),
    ]
    for (verb, resource, namespace), argv, body in refusals:
        assert not op.can(verb, resource, namespace), f"the operator may {verb} {resource} in {namespace or 'all'}"
        op.refused(*argv, input=body)
