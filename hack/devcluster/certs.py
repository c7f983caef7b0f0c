"""Certificates and keys for the local control plane, generated fresh for each cluster folder.

Called by :mod:`hack.devcluster.cluster`. One CA signs the API server's serving certificate,
the fake virt-api's serving certificate and the client certificates (admin in ``system:masters``,
and the controller manager); an RSA key pair signs and verifies service-account tokens. A second
CA, the front proxy's, signs only the client certificate the API server's aggregation layer shows
to an aggregated API server (as kubeadm sets it up: the two CAs are kept apart so that no ordinary
client certificate can pass for the front proxy, which asserts any user in its headers).

The CAs and certificates are trustme's (ECDSA P-256, each for client and server use): Kubernetes
reads a client certificate's CN as the user and its O as the group. Everything is written as PEM
files into the cluster's folder and embedded in the kubeconfigs, so kopf, lightkube and kubectl
read them as they are.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclasses.dataclass(frozen=True)
class Pair:
    """A certificate and its private key, as PEM files on disk."""

    cert: Path
    key: Path


@dataclasses.dataclass(frozen=True)
class Bundle:
    """Everything the control plane's processes and clients need."""

    ca: Pair
    serving: Pair
    admin: Pair
    controller_manager: Pair
    sa_public: Path
    sa_private: Path
    front_proxy_ca: Pair
    front_proxy_client: Pair
    """What the aggregation layer shows an aggregated API server (CN ``FRONT_PROXY_CLIENT``)."""
    virt_api: Pair
    """The fake virt-api's serving certificate, for ``VIRT_API_DNS`` and 127.0.0.1."""


FRONT_PROXY_CLIENT = "front-proxy-client"
VIRT_API_DNS = "virt-api.kubevirt.svc"
"""The name kube-apiserver expects on the virt-api Service's certificate: ``<service>.<namespace>.svc``."""
_APISERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "127.0.0.1")
_ORG = "kubenova-dev"  # a certificate's O is its group: this one grants nothing


def generate(folder: Path) -> Bundle:
    """Fresh keys and certificates in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name=_ORG, organization_unit_name="kubenova-dev-ca")
    front_proxy = trustme.CA(organization_name=_ORG, organization_unit_name="kubenova-dev-front-proxy-ca")

    def leaf(name: str, issuer: trustme.CA, *identities: str, cn: str, org: str = _ORG) -> Pair:
        # trustme always writes a critical subjectAltName, and Go refuses an empty one ("x509:
        # unhandled critical extension"), so a client certificate names itself by an address.
        cert = issuer.issue_cert(*(identities or [f"{name}@{_ORG}.invalid"]), common_name=cn, organization_name=org)
        return _write(folder, name, cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes())

    # Service-account tokens are signed with RSA: every consumer supports RS256.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_private = folder / "sa.key"
    sa_public = folder / "sa.pub"
    sa_private.write_bytes(
        sa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    sa_private.chmod(0o600)
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return Bundle(
        ca=_write_ca(folder, "ca", ca),
        serving=leaf("apiserver", ca, *_APISERVER_NAMES, cn="kube-apiserver"),
        admin=leaf("admin", ca, cn="admin", org="system:masters"),
        controller_manager=leaf("controller-manager", ca, cn="system:kube-controller-manager"),
        sa_public=sa_public,
        sa_private=sa_private,
        front_proxy_ca=_write_ca(folder, "front-proxy-ca", front_proxy),
        front_proxy_client=leaf("front-proxy-client", front_proxy, cn=FRONT_PROXY_CLIENT),
        virt_api=leaf("virt-api", ca, VIRT_API_DNS, "127.0.0.1", cn="virt-api"),
    )


def _write_ca(folder: Path, name: str, ca: trustme.CA) -> Pair:
    return _write(folder, name, ca.cert_pem.bytes(), ca.private_key_pem.bytes())


def _write(folder: Path, name: str, cert: bytes, key: bytes) -> Pair:
    pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
    pair.cert.write_bytes(cert)
    pair.key.write_bytes(key)
    pair.key.chmod(0o600)
    return pair


def webhook_certs(folder: Path, ca: Pair) -> Path:
    """A serving certificate for a webhook on loopback, signed by the cluster's CA, written as the
    ``tls.crt``/``tls.key``/``ca.crt`` a Kubernetes TLS Secret holds (the operator reads either)."""
    folder.mkdir(parents=True, exist_ok=True)
    issuer = trustme.CA.from_pem(ca.cert.read_bytes(), ca.key.read_bytes())
    cert = issuer.issue_cert("localhost", "127.0.0.1", common_name="kubenova-webhook", organization_name=_ORG)
    _write(folder, "tls", cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes())
    (folder / "ca.crt").write_bytes(ca.cert.read_bytes())
    return folder
