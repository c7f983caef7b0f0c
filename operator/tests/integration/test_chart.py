"""The Helm chart, installed and operated as Kubernetes users do, on a control plane of its own
(its API server writes an audit log, and no other operator runs there).

`helm lint`; `helm template` checked against the API server's schemas by a server-side dry run;
`helm install`; then the operator runs as the chart's ServiceAccount (a token from the
TokenRequest API, as its Pod would have) through a Server's whole lifecycle on both backends,
which proves the RBAC is enough; the audit log proves every rule is used; `helm upgrade` with a
changed value; `helm uninstall` leaves the CRDs and the users' objects. The template-only checks
(webhook, cert-manager, ServiceMonitor variants) are in test_chart_templates.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubenova.devcluster import building, operating
from kubenova.devcluster import cluster as devcluster
from tests import waiting

pytestmark = pytest.mark.integration
CHART = Path(__file__).resolve().parents[2] / "charts" / "kubenova"
RELEASE = "kubenova"
NAMESPACE = "kubenova-system"
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:{RELEASE}"
API = "compute.kubenova.io/v1alpha1"
# The webhook server is built separately: until it exists, the chart runs here without it
# (its objects are checked by the dry run and by test_chart_templates.py).
INSTALL = ("--set", "webhook.enabled=false")
WEBHOOK_ONLY = (
    "read only by the admission webhook, which the API server cannot reach here (the operator runs outside the cluster)"
)

# Rules the lifecycle cannot exercise here, each with the reason; any other unused rule fails
# the test, and should be removed from the chart.
UNEXERCISED = {
    ("compute.kubenova.io", "keypairs", "get"): WEBHOOK_ONLY,
}

# Rules used only when a race happens, which a run may or may not hit: allowed to be unused.
SOMETIMES = {
    ("compute.kubenova.io", "hosts", "get"): "a Host's create that races another is read back (create_or_adopt)",
}


def helm(c: devcluster.Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(building.binary("helm")), f"--kubeconfig={c.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**c.env(), "HELM_CACHE_HOME": str(c.root / "helm"), "HELM_CONFIG_HOME": str(c.root / "helm")},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def chart_cluster(request: pytest.FixtureRequest) -> Iterator[devcluster.Cluster]:
    building.ensure_all((building.HELM,))
    c = devcluster.start(nodes=3, audit=True)
    failed_before = request.session.testsfailed
    # The restricted Pod Security Standard, enforced: the chart's Pod must satisfy it, and a
    # dry run of its Deployment warns about any field that would not.
    c.kubectl("create", "namespace", NAMESPACE)
    c.kubectl(
        "label",
        "namespace",
        NAMESPACE,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    )
    yield c
    c.stop(keep=request.session.testsfailed > failed_before)


def test_helm_lint_is_clean(chart_cluster: devcluster.Cluster) -> None:
    helm(chart_cluster, "lint", "--strict", str(CHART))
    helm(
        chart_cluster,
        "lint",
        "--strict",
        str(CHART),
        "--set",
        "webhook.certificate.provider=cert-manager,metrics.serviceMonitor.enabled=true",
    )


def test_the_rendered_chart_passes_the_api_servers_schemas_and_pod_security(chart_cluster: devcluster.Cluster) -> None:
    rendered = helm(chart_cluster, "template", RELEASE, str(CHART), "-n", NAMESPACE).stdout
    kinds = {d["kind"] for d in documents(rendered)}
    assert {"Deployment", "ValidatingWebhookConfiguration", "CustomResourceDefinition", "ClusterRole"} <= kinds
    proc = chart_cluster.kubectl(
        "apply", "--dry-run=server", "--validate=strict", "-n", NAMESPACE, "-f", "-", input=rendered
    )
    assert "Warning" not in proc.stderr, proc.stderr  # PodSecurity warns on a Deployment it would refuse Pods of


def test_the_plain_crds_apply_with_kustomize(chart_cluster: devcluster.Cluster) -> None:
    crds = CHART.parents[1] / "crds"
    out = chart_cluster.kubectl("apply", "-k", str(crds), "--dry-run=server").stdout
    assert out.count("customresourcedefinition.apiextensions.k8s.io/") == 9, out


@pytest.fixture(scope="module")
def installed(chart_cluster: devcluster.Cluster) -> devcluster.Cluster:
    helm(chart_cluster, "install", RELEASE, str(CHART), "-n", NAMESPACE, *INSTALL)
    docs = documents(manifest(chart_cluster))
    crds = [f"crd/{d['metadata']['name']}" for d in docs if d["kind"] == "CustomResourceDefinition"]
    chart_cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *crds)
    return chart_cluster


def manifest(c: devcluster.Cluster) -> str:
    return helm(c, "get", "manifest", RELEASE, "-n", NAMESPACE).stdout


@pytest.fixture(scope="module")
def lifecycle(installed: devcluster.Cluster) -> dict[str, Any]:
    """A Server's lifecycle on both backends, with the operator as the chart's ServiceAccount.
    Returns what happened, for the tests below to judge."""
    c = installed
    kubeconfig = c.service_account_kubeconfig(NAMESPACE, RELEASE, c.root / "operator-sa.kubeconfig")
    # With peering, as the chart runs it: the operator creates its ClusterKopfPeering.
    env = {"KUBENOVA_STANDALONE": "false", "KUBENOVA_PEERING": "kubenova"}
    op = operating.start(c, kubeconfig=kubeconfig, name="operator-sa", env=env)
    try:
        return run_lifecycle(c, op)
    finally:
        op.stop()


def run_lifecycle(c: devcluster.Cluster, op: operating.Operator) -> dict[str, Any]:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    c.kubectl("create", "namespace", ns)
    user_data = base64.b64encode(b"#cloud-config\n").decode()
    c.apply(
        [
            {"apiVersion": API, "kind": "Flavor", "metadata": {"name": "chart.small"}, "spec": {"vcpus": 1, "ram": 64}},
            # No public key: the operator generates one into a Secret.
            {"apiVersion": API, "kind": "Keypair", "metadata": {"name": "key", "namespace": ns}, "spec": {}},
            {
                "apiVersion": API,
                "kind": "Quota",
                "metadata": {"name": "default", "namespace": ns},
                "spec": {"instances": 5},
            },
            {
                "apiVersion": API,
                "kind": "ServerGroup",
                "metadata": {"name": "grp", "namespace": ns},
                "spec": {"policy": "soft-anti-affinity"},
            },
            {
                "apiVersion": API,
                "kind": "Aggregate",
                "metadata": {"name": "chart-agg"},
                "spec": {"hosts": ["compute-0"]},
            },
        ]
    )
    waiting.until(lambda: status(c, "aggregate", "chart-agg").get("hosts"), what="aggregate status")
    waiting.until(lambda: status(c, "quota.compute.kubenova.io", "default", ns).get("absolute"), what="quota counted")
    waiting.until(lambda: status(c, "keypair", "key", ns).get("fingerprint"), what="keypair fingerprint")
    common = {"flavor": "chart.small", "keyName": "key", "userData": user_data, "schedulerHints": {"group": "grp"}}
    servers = {
        "pod": {"backend": "container", "image": "nginx:1.27", **common},
        "vm": {"backend": "kubevirt", "image": "quay.io/containerdisks/fedora:41", **common},
    }
    c.apply([server(name, ns, **spec) for name, spec in servers.items()])
    for name in servers:
        wait_status(c, name, ns, "ACTIVE")
    c.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "server/pod", "server/vm", "-n", ns)

    # A changed user-data Secret is put back when the workload is made again (a Secret patch).
    c.kubectl("patch", "secret", "pod-user-data", "-n", ns, "--type=merge", "-p", '{"data":{"userdata":"eA=="}}')
    for name in servers:
        declare(c, name, ns, state="stopped")
    for name in servers:
        wait_status(c, name, ns, "SHUTOFF")
    for name in servers:
        declare(c, name, ns, state="active")
    for name in servers:
        wait_status(c, name, ns, "ACTIVE", actions=3)
    secret = json.loads(c.kubectl("get", "secret", "pod-user-data", "-n", ns, "-o", "json").stdout)
    assert secret["data"]["userdata"] == user_data
    # Pause and unpause go through KubeVirt's subresource API (the dev cluster's stand-in virt-api).
    declare(c, "vm", ns, state="paused")
    wait_status(c, "vm", ns, "PAUSED", actions=4)
    declare(c, "vm", ns, state="active")
    wait_status(c, "vm", ns, "ACTIVE", actions=5)
    assert status(c, "quota.compute.kubenova.io", "default", ns)["absolute"]["totalInstancesUsed"] == 2
    waiting.until(lambda: status(c, "servergroup", "grp", ns).get("memberCount") == 2, what="group members")

    # A one-shot action: a reboot, recorded in its ServerAction.
    c.apply(
        [
            {
                "apiVersion": API,
                "kind": "ServerAction",
                "metadata": {"name": "reboot", "namespace": ns},
                "spec": {"server": "pod", "action": "reboot", "type": "HARD"},
            }
        ]
    )
    phase = waiting.until(
        lambda: (
            status(c, "serveraction", "reboot", ns).get("phase") in ("Succeeded", "Failed")
            and status(c, "serveraction", "reboot", ns)["phase"]
        ),
        what="reboot",
    )
    wait_status(c, "pod", ns, "ACTIVE", actions=4)

    c.kubectl("delete", "server", "pod", "vm", "-n", ns, "--timeout=60s")
    # A Node taken away with nothing on it: its Host goes too (the operator deletes Hosts).
    spare = c.add_nodes(1, prefix="spare", first=90)[0]
    waiting.until(lambda: status(c, "host", spare), what=f"host {spare}")
    c.kubectl("delete", "node", spare)
    waiting.until(lambda: c.kubectl("get", "host", spare, check=False).returncode != 0, what=f"host {spare} deleted")
    peering = c.get_json("clusterkopfpeering", "kubenova")
    return {
        "reboot": phase,
        "peers": peering.get("status") or {},
        "log": op.log.read_text(errors="replace"),
        "audit": [e for e in c.audit_events() if e["user"]["username"] == SERVICE_ACCOUNT],
    }


def server(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Server", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def status(c: devcluster.Cluster, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    where = ["-n", namespace] if namespace else []
    proc = c.kubectl("get", kind, name, *where, "-o", "json", check=False)
    result: dict[str, Any] = json.loads(proc.stdout).get("status") or {} if proc.returncode == 0 else {}
    return result


def declare(c: devcluster.Cluster, name: str, namespace: str, **spec: Any) -> None:
    c.kubectl("patch", "server", name, "-n", namespace, "--type=merge", "-p", json.dumps({"spec": spec}))


def wait_status(c: devcluster.Cluster, name: str, namespace: str, wanted: str, actions: int = 1) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        s = status(c, "server", name, namespace)
        done = s.get("status") == wanted and s.get("taskState") is None and len(s.get("actions", [])) >= actions
        return s if done else None

    return waiting.until(settled, timeout=60, what=f"server {name} {wanted}")


def test_the_operator_runs_a_server_lifecycle_with_the_charts_rbac(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["reboot"] == "Succeeded"
    assert lifecycle["audit"], "the audit log has no request by the operator's ServiceAccount"
    refused = sorted(
        {
            (e["verb"], e["objectRef"].get("apiGroup", ""), resource_of(e))
            for e in lifecycle["audit"]
            if e.get("responseStatus", {}).get("code") == 403
        }
    )
    assert not refused, f"the chart's RBAC refused the operator: {refused}"
    assert "Forbidden" not in lifecycle["log"]
    assert lifecycle["peers"], "the operator did not join its ClusterKopfPeering"


def resource_of(event: dict[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    return f"{ref.get('resource', '')}/{ref['subresource']}" if ref.get("subresource") else ref.get("resource", "")


def operator_rules(c: devcluster.Cluster) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(apiGroup, resource, verb, resourceNames) of every rule bound to the operator's account."""
    docs = documents(manifest(c))
    bound = {
        d["roleRef"]["name"]
        for d in docs
        if d["kind"] == "ClusterRoleBinding" and any(s.get("kind") == "ServiceAccount" for s in d["subjects"])
    }
    out = []
    for role in (d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] in bound):
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        out.append((group, resource, verb, tuple(rule.get("resourceNames", ()))))
    return out


def test_every_rbac_rule_of_the_operator_is_used(installed: devcluster.Cluster, lifecycle: dict[str, Any]) -> None:
    used = {
        (e["objectRef"].get("apiGroup", ""), resource_of(e), e["verb"], e["objectRef"].get("name"))
        for e in lifecycle["audit"]
        if e.get("objectRef") and e.get("responseStatus", {}).get("code") != 403
    }
    rules = operator_rules(installed)
    assert rules
    for rule in rules:
        assert "*" not in rule[:3], f"a wildcard in {rule}"
    unused = []
    for group, resource, verb, names in rules:
        if (group, resource, verb) in UNEXERCISED or (group, resource, verb) in SOMETIMES:
            continue
        if not any(u[:3] == (group, resource, verb) and (not names or u[3] in names) for u in used):
            unused.append((group, resource, verb, names))
    assert not unused, f"rules the operator never used (remove them, or list why in UNEXERCISED): {unused}"
    stale = [k for k in (*UNEXERCISED, *SOMETIMES) if not any(r[:3] == k for r in rules)]
    assert not stale, f"UNEXERCISED lists rules the chart no longer has: {stale}"


def test_helm_upgrade_applies_a_changed_value(installed: devcluster.Cluster, lifecycle: dict[str, Any]) -> None:
    c = installed
    helm(c, "upgrade", RELEASE, str(CHART), "-n", NAMESPACE, *INSTALL, "--set", "operator.logLevel=DEBUG")
    deployment = c.get_json("deployment", RELEASE, "-n", NAMESPACE)
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBENOVA_LOG_LEVEL"] == "DEBUG"
    history = json.loads(helm(c, "history", RELEASE, "-n", NAMESPACE, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "deployed"]


def test_helm_uninstall_leaves_crds_flavors_and_servers(
    installed: devcluster.Cluster, lifecycle: dict[str, Any]
) -> None:
    c = installed
    ns = f"t-{uuid.uuid4().hex[:8]}"
    c.kubectl("create", "namespace", ns)
    c.apply([server("kept", ns, flavor="chart.small", image="nginx:1.27", backend="container")])
    helm(c, "uninstall", RELEASE, "-n", NAMESPACE)
    assert c.kubectl("get", "deployment", RELEASE, "-n", NAMESPACE, check=False).returncode != 0
    assert c.kubectl("get", "clusterrole", f"{RELEASE}-workloads", check=False).returncode != 0
    for crd in ("servers.compute.kubenova.io", "flavors.compute.kubenova.io", "clusterkopfpeerings.kopf.dev"):
        c.kubectl("get", "crd", crd)
    c.kubectl("get", "server", "kept", "-n", ns)
    c.kubectl("get", "flavor", "chart.small")
