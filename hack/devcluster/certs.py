"""Certificates and keys for the local control plane, generated fresh for each cluster folder.

Called by :mod:`hack.devcluster.cluster`. One CA signs the API server's serving certificate,
the fake virt-api's serving certificate and the client certificates (admin in ``system:masters``,
and the controller manager); an RSA key pair signs and verifies service-account tokens. A second
CA, the front proxy's, signs only the client certificate the API server's aggregation layer shows
to an aggregated API server (as kubeadm sets it up: the two CAs are kept apart so that no ordinary
client certificate can pass for the front proxy, which asserts any user in its headers).
Everything is written as PEM files into the cluster's folder and embedded in the kubeconfigs, so
kopf, lightkube and kubectl read them as they are.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)


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
    """The fake virt-api's serving certificate, for ``VIRT_API_DNS`` and the given addresses."""


FRONT_PROXY_CLIENT = "front-proxy-client"
VIRT_API_DNS = "virt-api.kubevirt.svc"
"""The name kube-apiserver expects on the virt-api Service's certificate: ``<service>.<namespace>.svc``."""
_APISERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")


def generate(folder: Path, *, virt_api_ips: Sequence[str] = ()) -> Bundle:
    """Fresh keys and certificates in ``folder``; ``virt_api_ips`` are where the fake virt-api listens."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert, ca = _ca(folder, "ca", "kubenova-dev-ca")
    fp_key, fp_cert, front_proxy_ca = _ca(folder, "front-proxy-ca", "kubenova-dev-front-proxy-ca")

    def leaf(
        name: str,
        cn: str,
        org: str | None,
        *,
        server: bool,
        dns: Sequence[str] = (),
        ips: Sequence[str] = (),
        issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] = (ca_key, ca_cert),
    ) -> Pair:
        key = _ec_key()
        sans = [*(x509.DNSName(d) for d in dns), *(x509.IPAddress(ipaddress.ip_address(i)) for i in ips)]
        cert = _sign(subject=_name(cn, org), key=key, issuer_key=issuer[0], issuer=issuer[1], server=server, sans=sans)
        return _write(folder, name, cert, key)

    serving = leaf("apiserver", "kube-apiserver", None, server=True, dns=_APISERVER_NAMES, ips=["127.0.0.1"])
    admin = leaf("admin", "admin", "system:masters", server=False)
    kcm = leaf("controller-manager", "system:kube-controller-manager", None, server=False)
    front_proxy_client = leaf("front-proxy-client", FRONT_PROXY_CLIENT, None, server=False, issuer=(fp_key, fp_cert))
    virt_api = leaf("virt-api", "virt-api", None, server=True, dns=[VIRT_API_DNS], ips=["127.0.0.1", *virt_api_ips])

    # Service-account tokens are signed with RSA: every consumer supports RS256.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_private = folder / "sa.key"
    sa_public = folder / "sa.pub"
    sa_private.write_bytes(
        sa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return Bundle(ca, serving, admin, kcm, sa_public, sa_private, front_proxy_ca, front_proxy_client, virt_api)


def _ca(folder: Path, name: str, cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Pair]:
    key = _ec_key()
    cert = _sign(subject=_name(cn), key=key, issuer_key=key, issuer=None, is_ca=True)
    return key, cert, _write(folder, name, cert, key)


def _ec_key() -> ec.EllipticCurvePrivateKey:
    # P-256 keys generate in microseconds; RSA would add a second per certificate.
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _sign(
    *,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    is_ca: bool = False,
    server: bool = False,
    sans: Sequence[x509.GeneralName] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pair:
    pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pair.key.chmod(0o600)
    return pair


def webhook_certs(folder: Path, ca: Pair) -> Path:
    """A serving certificate for a webhook on loopback, signed by the cluster's CA, written as the
    ``tls.crt``/``tls.key``/``ca.crt`` a Kubernetes TLS Secret holds (the operator reads either)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _ec_key()
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = _sign(subject=_name("kubenova-webhook"), key=key, issuer_key=ca_key, issuer=ca_cert, server=True, sans=sans)
    pair = _write(folder, "tls", cert, key)
    pair.cert.rename(folder / "tls.crt")
    pair.key.rename(folder / "tls.key")
    (folder / "ca.crt").write_bytes(ca.cert.read_bytes())
    return folder
