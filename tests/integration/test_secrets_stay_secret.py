"""Private keys, user data and tokens live only in Secrets (issue 15, section 3).

A full lifecycle: a Keypair the operator generates (its private key goes to the Secret
``keypair-<name>``), a Keypair imported, a Server with ``userData`` on each backend (one of them
created by a tenant ServiceAccount with a TokenRequest token), a reboot ServerAction, stop and
start. Then every Server, Keypair and ServerAction (the whole object less the spec the user wrote
and kubectl's copy of it), every Pod, VirtualMachine, ConfigMap and Event (core and
events.k8s.io) of the namespace, and the operator's log are searched for the private key (its
PEM armour, its base64 body, the Secret's encoded value), the user data (decoded and base64) and
the token: none may be found.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hack.devcluster import building
from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from tests import waiting

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"
FLAVOR = "sec.small"
IMAGES = {"container": "nginx:1.27", "kubevirt": "quay.io/containerdisks/fedora:40"}
IMPORTED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob"
# Spec fields whose values the user wrote: they may be anywhere the spec is (kopf's and
# kubectl's copies of it), but nowhere else.
SPEC_COPIES = ("kubectl.kubernetes.io/last-applied-configuration", "kopf.zalando.org/last-handled-configuration")


@pytest.fixture
def flavor(cluster: Cluster) -> Iterator[str]:
    spec = {"vcpus": 1, "ram": 512, "disk": 1}
    cluster.apply([{"apiVersion": API, "kind": "Flavor", "metadata": {"name": FLAVOR}, "spec": spec}])
    yield FLAVOR
    cluster.kubectl("delete", "flavor", FLAVOR, "--wait=false", "--ignore-not-found", check=False)


def obj(cluster: Cluster, kind: str, name: str, namespace: str) -> dict[str, Any]:
    proc = cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def items(cluster: Cluster, kind: str, namespace: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cluster.get_json(kind, "-n", namespace)["items"]
    return found


def server_status(cluster: Cluster, name: str, namespace: str, wanted: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        s: dict[str, Any] = obj(cluster, "server", name, namespace).get("status", {})
        return s if s.get("status") == wanted and s.get("taskState") is None else None

    return waiting.until(settled, timeout=45, what=f"server {name} {wanted}")


def tenant_kubeconfig(cluster: Cluster, namespace: str, path: Path) -> tuple[Path, str]:
    """A ServiceAccount that may create Servers and ServerActions in ``namespace`` only."""
    cluster.kubectl("create", "serviceaccount", "tenant", "-n", namespace)
    cluster.kubectl(
        "create", "role", "tenant", "-n", namespace, "--verb=get,list,create,patch",
        "--resource=servers.compute.kubenova.io,serveractions.compute.kubenova.io",
    )  # fmt: skip
    cluster.kubectl(
        "create", "rolebinding", "tenant", "-n", namespace, "--role=tenant", f"--serviceaccount={namespace}:tenant"
    )
    kubeconfig = cluster.service_account_kubeconfig(namespace, "tenant", path, hours=1)
    token = next(line.split(":", 1)[1].strip() for line in kubeconfig.read_text().splitlines() if "token:" in line)
    return kubeconfig, token.strip("'\"")


def kubectl_as(kubeconfig: Path, *args: str, input: str | None = None) -> str:
    proc = subprocess.run(
        [str(building.binary("kubectl")), f"--kubeconfig={kubeconfig}", *args],
        input=input, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def without_user_spec(o: dict[str, Any]) -> dict[str, Any]:
    """The object less what the user wrote: its spec and the annotations that copy the spec."""
    rest = {k: v for k, v in o.items() if k != "spec"}
    meta = dict(rest.get("metadata", {}))
    meta["annotations"] = {k: v for k, v in meta.get("annotations", {}).items() if k not in SPEC_COPIES}
    rest["metadata"] = meta
    return rest


def needles(private_pem: str, public: str, private_b64: str, user_data: dict[str, str], token: str) -> dict[str, str]:
    """What must not be found, each with a name for the failure message.

    An OpenSSH private key holds its public half too, and a few lines of its base64 body are the
    public key's own text (found, rightly, in the Keypair's status and the authorized keys): those
    lines are not secret and are left out."""
    found = {"PEM armour": "PRIVATE KEY-----", "the Secret's encoded private key": private_b64, "the token": token}
    body = [line for line in private_pem.splitlines() if line and not line.startswith("-----")]
    found["the private key's base64 body"] = "".join(body)
    for i, line in enumerate(body):
        if len(line) >= 24 and line not in public:  # a line of the body alone is still key material
            found[f"private key body line {i}"] = line
    for backend, encoded in user_data.items():
        found[f"{backend} user data (base64)"] = encoded
        found[f"{backend} user data (decoded)"] = base64.b64decode(encoded).decode()
    return found


def test_no_private_key_user_data_or_token_outside_secrets(
    cluster: Cluster, operator: Operator, namespace: str, flavor: str, tmp_path: Path
) -> None:
    marker = uuid.uuid4().hex
    user_data = {
        backend: base64.b64encode(f"#cloud-config\nruncmd: [[echo, {backend}-{marker}-secret]]\n".encode()).decode()
        for backend in IMAGES
    }
    kubeconfig, token = tenant_kubeconfig(cluster, namespace, tmp_path / "tenant.kubeconfig")
    assert len(token) > 100

    # Keypairs: one generated by the operator, one imported.
    cluster.apply(
        [
            {"apiVersion": API, "kind": "Keypair", "metadata": {"name": "gen", "namespace": namespace}, "spec": {}},
            {"apiVersion": API, "kind": "Keypair", "metadata": {"name": "bob", "namespace": namespace},
             "spec": {"publicKey": IMPORTED}},
        ]
    )  # fmt: skip
    for name in ("gen", "bob"):
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", f"keypair/{name}", "-n", namespace)
    ref = obj(cluster, "keypair", "gen", namespace)["status"]["privateKeySecretRef"]["name"]
    assert ref == "keypair-gen"
    private_b64 = obj(cluster, "secret", ref, namespace)["data"]["ssh-privatekey"]
    private_pem = base64.b64decode(private_b64).decode()
    public = obj(cluster, "keypair", "gen", namespace)["status"]["publicKey"]
    assert "PRIVATE KEY-----" in private_pem

    # A Server on each backend with user data: the container one made by the tenant's token.
    def server(backend: str, key: str) -> dict[str, Any]:
        spec = {"flavor": flavor, "image": IMAGES[backend], "backend": backend, "keyName": key,
                "userData": user_data[backend]}  # fmt: skip
        return {
            "apiVersion": API,
            "kind": "Server",
            "metadata": {"name": backend, "namespace": namespace},
            "spec": spec,
        }

    kubectl_as(kubeconfig, "apply", "-f", "-", input=json.dumps(server("container", "gen")))
    cluster.apply([server("kubevirt", "bob")])
    for backend in IMAGES:
        server_status(cluster, backend, namespace, "ACTIVE")
        assert obj(cluster, "secret", f"{backend}-user-data", namespace)["data"]["userdata"] == user_data[backend]

    # A reboot through a ServerAction (the tenant's), then stop and start through the spec.
    for backend in IMAGES:
        meta = {"name": f"{backend}-reboot", "namespace": namespace}
        action = {
            "apiVersion": API,
            "kind": "ServerAction",
            "metadata": meta,
            "spec": {"server": backend, "action": "reboot"},
        }
        kubectl_as(kubeconfig, "apply", "-f", "-", input=json.dumps(action))

    def rebooted(backend: str) -> bool:
        phase = obj(cluster, "serveraction", f"{backend}-reboot", namespace).get("status", {}).get("phase")
        assert phase != "Failed", f"{backend} reboot failed"
        return bool(phase == "Succeeded")

    for backend in IMAGES:
        waiting.until(functools.partial(rebooted, backend), timeout=45, what=f"{backend} reboot")
    for state, wanted in (("stopped", "SHUTOFF"), ("active", "ACTIVE")):
        for backend in IMAGES:
            patch = json.dumps({"spec": {"state": state}})
            cluster.kubectl("patch", "server", backend, "-n", namespace, "--type=merge", "-p", patch)
        for backend in IMAGES:
            server_status(cluster, backend, namespace, wanted)

    # The search: every place a secret must not be.
    places: dict[str, str] = {}
    for kind in ("servers", "keypairs", "serveractions"):
        for o in items(cluster, f"{kind}.compute.kubenova.io", namespace):
            places[f"{kind}/{o['metadata']['name']}"] = json.dumps(without_user_spec(o))
    for kind in ("pods", "virtualmachines.kubevirt.io", "configmaps", "events", "events.events.k8s.io"):
        for o in items(cluster, kind, namespace):
            places[f"{kind}/{o['metadata']['name']}"] = json.dumps(o)
    places["the operator's log"] = operator.log.read_text(errors="replace")
    assert namespace in places["the operator's log"], "the operator's log says nothing of this test's objects"
    assert any(k.startswith("events") for k in places), "no Event was found to search"

    sought = needles(private_pem, public, private_b64, user_data, token)
    assert sum(what.startswith("private key body line") for what in sought) >= 3, "too little private key sought"
    leaks = [
        f"{what} in {where}"
        for what, needle in sought.items()
        for where, text in places.items()
        if needle and needle in text
    ]
    assert not leaks, "secrets found outside Secrets:\n" + "\n".join(leaks)
    # The search looked where it should: the user data is where the user put it.
    assert user_data["kubevirt"] in json.dumps(obj(cluster, "server", "kubevirt", namespace)["spec"])


def test_a_server_cannot_use_another_namespaces_keypair(
    cluster: Cluster, operator: Operator, namespace: str, flavor: str
) -> None:
    """``keyName`` is looked up in the Server's own namespace: a Keypair of the same name in
    another namespace is not found (Nova's keypairs are the user's own), so its key reaches no
    workload and no Secret here."""
    other = f"{namespace}-other"
    cluster.kubectl("create", "namespace", other)
    try:
        cluster.apply(
            [{"apiVersion": API, "kind": "Keypair", "metadata": {"name": "theirs", "namespace": other}, "spec": {}}]
        )
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "keypair/theirs", "-n", other)
        public = obj(cluster, "keypair", "theirs", other)["status"]["publicKey"]
        spec = {"flavor": flavor, "image": IMAGES["container"], "backend": "container", "keyName": "theirs"}
        body = {
            "apiVersion": API,
            "kind": "Server",
            "metadata": {"name": "borrower", "namespace": namespace},
            "spec": spec,
        }
        proc = cluster.kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
        if proc.returncode != 0:  # the webhook refuses it at once
            assert "theirs" in proc.stderr, proc.stderr
            assert "Invalid key_name provided" in proc.stderr, proc.stderr
        else:  # or the operator does, with a fault
            s = server_status(cluster, "borrower", namespace, "ERROR")
            assert "theirs" in s["fault"]["message"], s
        here = json.dumps(
            [items(cluster, kind, namespace) for kind in ("pods", "secrets", "servers.compute.kubenova.io")]
        )
        assert public.split()[1] not in here, "another namespace's public key reached this one"
    finally:
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)
