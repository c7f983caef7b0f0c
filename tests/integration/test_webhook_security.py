"""The admission webhook's transport and failure policy (issue 15, section 3).

An operator of this test's own (the session's shared one keeps running, its webhook
configuration untouched) serves the webhook with ``KUBENOVA_WEBHOOK_FAILURE_POLICY=Fail`` under a
ValidatingWebhookConfiguration of its own name, removed after:

- TLS only: the announced URL is ``https``; a plain-HTTP request to the port gets no HTTP answer.
- The certificate is checked: a client trusting the cluster's CA (the configuration's
  ``caBundle``) completes the handshake, one trusting another CA fails verification, and the API
  server itself, given a wrong ``caBundle``, refuses to call the webhook (and, the policy being
  Fail, refuses the write).
- ``failurePolicy: Fail``: with the operator stopped, ``kubectl apply`` of a Server is refused and
  nothing is created. (``Ignore``, the default, letting the same apply through, is
  tests/integration/test_quotas.py::test_with_the_webhook_down_apply_works_and_the_operator_still_enforces.)
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import urllib.parse
import uuid
from typing import Any

import pytest
import trustme

from hack.devcluster import operating
from hack.devcluster.cluster import Cluster
from tests import waiting

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"


def configuration(cluster: Cluster, name: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", "validatingwebhookconfiguration", name, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def server(name: str, namespace: str, flavor: str, **extra: str) -> str:
    spec = {"flavor": flavor, "image": "nginx:1.27", "backend": "container", **extra}
    return json.dumps(
        {"apiVersion": API, "kind": "Server", "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    )


def handshake(host: str, port: int, context: ssl.SSLContext) -> dict[str, Any]:
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        cert = tls.getpeercert()
        assert cert is not None
        return dict(cert)


def plain_http(host: str, port: int, path: str) -> bytes:
    """What a plain-HTTP POST gets back: the first bytes the server sends, if any."""
    body = b'{"kind": "AdmissionReview"}'
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(request.encode() + body)
        try:
            return s.recv(4096)
        except (ConnectionError, TimeoutError):
            return b""


def test_the_webhook_is_tls_only_checks_its_certificate_and_fail_refuses_when_down(
    cluster: Cluster, namespace: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    name = f"fail-{tag}.compute.kubenova.io"
    env = {"KUBENOVA_WEBHOOK_CONFIGURATION": name, "KUBENOVA_WEBHOOK_FAILURE_POLICY": "Fail"}
    op = operating.start(cluster, name=f"operator-webhook-{tag}", webhook=True, env=env)
    try:
        conf = waiting.until(lambda: (c := configuration(cluster, name)) and c.get("webhooks") and c, what=name)
        hooks = conf["webhooks"]
        assert {h["name"] for h in hooks} >= {f"servers.{name}", f"keypairs.{name}"}
        assert {h["failurePolicy"] for h in hooks} == {"Fail"}
        url = urllib.parse.urlsplit(hooks[0]["clientConfig"]["url"])
        assert url.scheme == "https"
        host, port = url.hostname or "", url.port or 443
        ca = cluster.bundle.ca.cert.read_bytes()
        assert {base64.b64decode(h["clientConfig"]["caBundle"]) for h in hooks} == {ca}

        # TLS only: plain HTTP gets no HTTP response (the TLS server closes or answers with an alert).
        answer = plain_http(host, port, url.path)
        assert not answer.startswith(b"HTTP/"), answer[:200]

        # The certificate: verified against the cluster's CA, for the address dialled ...
        trusted = ssl.create_default_context(cadata=ca.decode())
        cert = handshake(host, port, trusted)
        assert ("IP Address", host) in cert["subjectAltName"]
        # ... and refused by a client that trusts another CA.
        other = ssl.create_default_context()
        trustme.CA().configure_trust(other)
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake(host, port, other)

        # Up, the webhook answers (a dry run reaches it): a Server of a missing keypair is refused by it.
        refused = cluster.kubectl(
            "create",
            "--dry-run=server",
            "-f",
            "-",
            input=server("x", namespace, f"no-{tag}", keyName=f"no-{tag}"),
            check=False,
        )
        assert refused.returncode != 0
        # The session's operator serves a webhook for Servers too, and kube-apiserver calls
        # validating webhooks in parallel, reporting whichever refusal comes first: either one.
        ours, shared = f'admission webhook "servers.{name}" denied', 'admission webhook "servers.webhook.'
        assert ours in refused.stderr or shared in refused.stderr, refused.stderr

        # The API server checks the certificate too: with a caBundle of another CA it will not call
        # the webhook, and the Fail policy refuses the write.
        wrong = base64.b64encode(trustme.CA().cert_pem.bytes()).decode()
        index = next(i for i, h in enumerate(hooks) if h["name"] == f"servers.{name}")
        patch = [{"op": "replace", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": wrong}]
        cluster.kubectl("patch", "validatingwebhookconfiguration", name, "--type=json", "-p", json.dumps(patch))
        untrusted = cluster.kubectl(
            "create", "--dry-run=server", "-f", "-", input=server("y", namespace, f"no-{tag}"), check=False
        )
        assert untrusted.returncode != 0
        assert f'failed calling webhook "servers.{name}"' in untrusted.stderr, untrusted.stderr
        assert "x509" in untrusted.stderr or "certificate" in untrusted.stderr, untrusted.stderr
        patch[0]["value"] = base64.b64encode(ca).decode()
        cluster.kubectl("patch", "validatingwebhookconfiguration", name, "--type=json", "-p", json.dumps(patch))

        # failurePolicy: Fail, the operator stopped: the configuration stays, and the apply is refused.
        op.stop()
        assert configuration(cluster, name) is not None
        down = cluster.kubectl("apply", "-f", "-", input=server("z", namespace, f"no-{tag}"), check=False)
        assert down.returncode != 0, down.stdout
        assert f'failed calling webhook "servers.{name}"' in down.stderr, down.stderr
        assert "connection refused" in down.stderr, down.stderr
        assert cluster.get_json("servers.compute.kubenova.io", "-n", namespace)["items"] == []
    finally:
        op.stop()
        cluster.kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)
    assert configuration(cluster, name) is None  # restored: no Fail configuration is left behind
