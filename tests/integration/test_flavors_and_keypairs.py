"""Flavors become Ready; Keypairs get Nova's fingerprints, a clear fault for a bad key, and a
generated key whose private half lives only in a Secret of their namespace."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from kubenova import keypairs
from tests import kube as k
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob"


def keypair(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return k.manifest("Keypair", name, namespace, **spec)


def test_a_flavor_becomes_ready_and_kubectl_wait_works(
    cluster: Cluster, kube: Client, operator: Operator, made: Made
) -> None:
    made.apply([k.flavor("it.small", vcpus=1, ram=2048, disk=20)])
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "flavor/it.small")
    assert k.status(kube, "flavor", "it.small")["observedGeneration"] == 1


def test_an_imported_key_gets_novas_md5_and_the_sha256_fingerprint(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str
) -> None:
    cluster.apply([keypair("bob", namespace, publicKey=ED25519)])
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "keypair/bob", "-n", namespace)
    s = k.status(kube, "keypair", "bob", namespace)
    assert s["fingerprint"] == "0d:4d:c5:77:9f:65:dd:7c:9a:20:3d:98:6a:46:17:a1"
    assert s["fingerprintSha256"] == "SHA256:sYCcah8RxwvfvJ8k4VmgYrkPtsqTbABHvtuQci97iCE"
    assert "privateKeySecretRef" not in s


def test_an_invalid_key_gets_a_fault_and_is_not_ready(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str
) -> None:
    cluster.apply([keypair("broken", namespace, publicKey="ssh-rsa AAAAnotakey")])
    s = k.wait_for(kube, "keypair", "broken", namespace, check=lambda x: x.get("fault"), what="fault")
    assert s["fault"]["message"] == keypairs.INVALID_KEY
    assert s["fault"]["code"] == 400
    ready = next(c for c in s["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidPublicKey")


def test_a_keypair_without_a_key_gets_one_with_the_private_key_in_a_secret(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str
) -> None:
    cluster.apply([keypair("gen", namespace)])
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "keypair/gen", "-n", namespace)
    s = k.status(kube, "keypair", "gen", namespace)
    secret = k.get(kube, "secret", s["privateKeySecretRef"]["name"], namespace)
    assert secret["type"] == "kubernetes.io/ssh-auth"
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "Keypair"
    private = base64.b64decode(secret["data"]["ssh-privatekey"]).decode()
    assert keypairs.public_from_private(private) == s["publicKey"]
    assert s["fingerprint"] == keypairs.fingerprints(s["publicKey"]).md5
    assert "PRIVATE" not in json.dumps(s)  # never in status

    # A restart reads the key back; it does not make another.
    operator.restart()
    cluster.kubectl("annotate", "keypair", "gen", "-n", namespace, "touch=1")
    assert k.status(kube, "keypair", "gen", namespace)["publicKey"] == s["publicKey"]
