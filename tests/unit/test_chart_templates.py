"""The chart's templates, rendered by `helm template` (no cluster): the parts the installed test
does not run (the admission webhook with either certificate provider, the ServiceMonitor), the
values schema's strictness, and the security and RBAC properties every rendering keeps.
Needs only the helm binary the dev control plane builds (once, into its cache), no cluster:
unit-speed once helm is built.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from hack.devcluster import building

pytestmark = pytest.mark.helm
CHART = Path(__file__).resolve().parents[2] / "charts" / "kubenova"
NAMESPACE = "kubenova-system"
# Values that take Kubernetes' own types, whose fields the API server checks (the dry run).
KUBERNETES_TYPED = {
    "tolerations.items",
    "operator.extraEnv.items",
    *(f"affinity.{k}" for k in ("nodeAffinity", "podAffinity", "podAntiAffinity")),
}


@pytest.fixture(scope="module", autouse=True)
def helm_built() -> None:
    building.ensure_all((building.HELM,))


def render(*values: str, check: bool = True) -> list[dict[str, Any]] | str:
    args = [str(building.binary("helm")), "template", "kubenova", str(CHART), "-n", NAMESPACE]
    for v in values:
        args += ["--set", v]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if not check:
        assert proc.returncode != 0, "helm template accepted it"
        return proc.stderr
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def docs(*values: str) -> list[dict[str, Any]]:
    out = render(*values)
    assert isinstance(out, list)
    return out


def one(documents: list[dict[str, Any]], kind: str, name_part: str = "") -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind and name_part in d["metadata"]["name"]]
    assert len(found) == 1, f"{kind} {name_part}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    spec = one(documents, "Deployment")["spec"]["template"]["spec"]
    c: dict[str, Any] = spec["containers"][0]
    return c


def env(documents: list[dict[str, Any]]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(documents)["env"]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope=1", "additional properties 'nope' not allowed"),
        ("webhook.nope=1", "additional properties 'nope' not allowed"),
        ("metrics.serviceMonitor.intervall=1m", "additional properties 'intervall' not allowed"),
        ("webhook.failurePolicy=Sometimes", "value must be one of"),
        ("operator.defaultBackend=vmware", "value must be one of"),
    ],
)
def test_the_values_schema_refuses_typos_and_bad_values(value: str, message: str) -> None:
    stderr = render(value, check=False)
    assert isinstance(stderr, str)
    assert message in stderr


def test_every_level_of_the_values_schema_is_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node: dict[str, Any], path: str) -> None:
        if node.get("type") == "object" and path not in KUBERNETES_TYPED and path != "global":
            assert node.get("additionalProperties") is not None, f"{path or '<root>'} accepts unknown keys"
            assert node["additionalProperties"] is not True, f"{path or '<root>'} accepts unknown keys"
        for key, child in node.get("properties", {}).items():
            walk(child, f"{path}.{key}".lstrip("."))
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}.items")

    walk(schema, "")


def test_every_value_is_in_the_schema_and_documented() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    text = (CHART / "values.yaml").read_text().splitlines()

    def walk(v: dict[str, Any], s: dict[str, Any], path: str, start: int, indent: int) -> None:
        for key, value in v.items():
            assert key in s.get("properties", {}), f"{path}{key} is not in values.schema.json"
            line = next(i for i in range(start, len(text)) if text[i].startswith(" " * indent + f"{key}:"))
            assert text[line - 1].strip().startswith("#"), f"{path}{key} has no comment above it in values.yaml"
            if isinstance(value, dict) and value and "properties" in s["properties"][key]:
                walk(value, s["properties"][key], f"{path}{key}.", line + 1, indent + 2)

    walk(values, schema, "", 0, 0)


def test_the_operator_pod_is_restricted_and_single() -> None:
    d = docs()
    deployment = one(d, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(d)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    probes = container(d)
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert (container(d)["command"], container(d)["args"]) == (["kubenova"], ["operator"])
    assert env(d)["KUBENOVA_METRICS_ADDRESS"] == "0.0.0.0:8000"
    assert env(docs("metrics.enabled=false"))["KUBENOVA_METRICS_ADDRESS"] == ""


def test_rbac_has_no_wildcards_and_user_roles_aggregate() -> None:
    d = docs()
    for role in (x for x in d if x["kind"] in ("ClusterRole", "Role")):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{role['metadata']['name']}: a wildcard in {field}"
            for group in rule["apiGroups"]:
                assert "/" not in group, f"{role['metadata']['name']}: an API group with a version: {group}"
    view = one(d, "ClusterRole", "-view")["metadata"]["labels"]
    edit = one(d, "ClusterRole", "-edit")["metadata"]["labels"]
    assert view["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in edit
    assert not [x for x in docs("rbac.aggregateToDefaultRoles=false") if x["metadata"]["name"].endswith("-view")]


def test_crds_are_kept_or_left_out() -> None:
    crds = [x for x in docs() if x["kind"] == "CustomResourceDefinition"]
    assert len(crds) == len(list((CHART / "templates" / "crds").glob("*.yaml")))
    assert all(c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for c in crds)
    assert not [
        x for x in docs("crds.keep=false") if "annotations" in x["metadata"] and x["kind"].endswith("Definition")
    ]
    assert not [x for x in docs("crds.enabled=false") if x["kind"] == "CustomResourceDefinition"]


def test_the_webhook_with_helms_certificate() -> None:
    d = docs()
    vwc = one(d, "ValidatingWebhookConfiguration")
    hooks = {h["clientConfig"]["service"]["path"]: h for h in vwc["webhooks"]}
    # One webhook per operator handler (kopf serves each at /<handler id>), for its kind only.
    assert {p: [r["resources"] for r in h["rules"]] for p, h in hooks.items()} == {
        "/servers": [["servers"]],
        "/keypairs": [["keypairs"]],
        "/servergroups": [["servergroups"]],
        "/aggregates": [["aggregates"]],
        "/images": [["images"]],
    }
    assert hooks["/images"]["rules"][0]["operations"] == ["DELETE"]
    assert hooks["/servers"]["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    assert hooks["/keypairs"]["rules"][0]["operations"] == ["CREATE"]
    service = one(d, "Service", "-webhook")
    secret = one(d, "Secret", "-webhook-tls")
    for hook in hooks.values():
        assert hook["failurePolicy"] == "Ignore"
        assert hook["sideEffects"] == "None"
        assert hook["rules"][0]["apiGroups"] == ["compute.kubenova.io"]
        assert hook["clientConfig"]["service"]["name"] == service["metadata"]["name"]
    hook = hooks["/servers"]
    ca = x509.load_pem_x509_certificate(base64.b64decode(hook["clientConfig"]["caBundle"]))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert f"{service['metadata']['name']}.{NAMESPACE}.svc" in names
    e = env(d)
    assert e["KUBENOVA_WEBHOOK_SERVICE"] == f"{NAMESPACE}/{service['metadata']['name']}"
    assert "KUBENOVA_WEBHOOK_CONFIGURATION" not in e  # the chart owns the configuration
    assert e["KUBENOVA_WEBHOOK_FAILURE_POLICY"] == "Ignore"
    assert e["KUBENOVA_WEBHOOK_LISTEN"] == "0.0.0.0:9443"
    mounts = {m["name"]: m["mountPath"] for m in container(d)["volumeMounts"]}
    assert mounts["webhook-certs"] == e["KUBENOVA_WEBHOOK_CERT_DIR"]
    # The operator needs no right on webhook configurations.
    assert not [
        r
        for x in d
        if x["kind"] == "ClusterRole"
        for r in x["rules"]
        if "admissionregistration.k8s.io" in r["apiGroups"]
    ]
    fail = one(docs("webhook.failurePolicy=Fail"), "ValidatingWebhookConfiguration")
    assert {h["failurePolicy"] for h in fail["webhooks"]} == {"Fail"}


def test_the_webhook_with_cert_manager() -> None:
    d = docs("webhook.certificate.provider=cert-manager")
    vwc = one(d, "ValidatingWebhookConfiguration")
    assert "caBundle" not in vwc["webhooks"][0]["clientConfig"]
    certificate = one(d, "Certificate")
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{NAMESPACE}/{certificate['metadata']['name']}"
    )
    assert (
        certificate["spec"]["secretName"]
        == one(d, "Deployment")["spec"]["template"]["spec"]["volumes"][1]["secret"]["secretName"]
    )
    assert certificate["spec"]["issuerRef"]["name"] == one(d, "Issuer")["metadata"]["name"]
    assert not [x for x in d if x["kind"] == "Secret"]
    given = docs(
        "webhook.certificate.provider=cert-manager",
        "webhook.certificate.issuerRef.name=corp-ca",
        "webhook.certificate.issuerRef.kind=ClusterIssuer",
    )
    assert not [x for x in given if x["kind"] == "Issuer"]
    assert one(given, "Certificate")["spec"]["issuerRef"]["kind"] == "ClusterIssuer"


def test_webhook_disabled_leaves_no_trace() -> None:
    d = docs("webhook.enabled=false")
    kinds = {x["kind"] for x in d}
    assert not kinds & {"ValidatingWebhookConfiguration", "Secret", "Certificate", "Issuer"}
    assert not [x for x in d if x["metadata"]["name"].endswith("-webhook")]
    assert not [k for k in env(d) if k.startswith("KUBENOVA_WEBHOOK")]


def test_metrics_service_and_optional_service_monitor() -> None:
    d = docs()
    service = one(d, "Service", "-metrics")
    assert service["spec"]["ports"][0]["port"] == 8000
    assert not [x for x in d if x["kind"] == "ServiceMonitor"]
    monitor = one(
        docs("metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prom"), "ServiceMonitor"
    )
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
