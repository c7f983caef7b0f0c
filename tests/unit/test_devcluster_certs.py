"""The dev cluster's certificates (hack/devcluster/certs.py, made with trustme): who each one says
it is, which CA signed it, and no empty subjectAltName (Go refuses a critical empty one)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from hack.devcluster import certs


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def subject(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]


def test_each_certificate_is_whom_kubernetes_expects_and_signed_by_the_right_ca(tmp_path: Path) -> None:
    bundle = certs.generate(tmp_path)
    ca, front_proxy_ca = load(bundle.ca.cert), load(bundle.front_proxy_ca.cert)
    expected = {
        "serving": ("kube-apiserver", ca),
        "admin": ("admin", ca),
        "controller_manager": ("system:kube-controller-manager", ca),
        "virt_api": ("virt-api", ca),
        "front_proxy_client": (certs.FRONT_PROXY_CLIENT, front_proxy_ca),
    }
    for field, (cn, issuer) in expected.items():
        cert = load(getattr(bundle, field).cert)
        assert subject(cert, NameOID.COMMON_NAME) == [cn], field
        cert.verify_directly_issued_by(issuer)
        assert list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value), field
        assert getattr(bundle, field).key.stat().st_mode & 0o077 == 0
    assert subject(load(bundle.admin.cert), NameOID.ORGANIZATION_NAME) == ["system:masters"]
    assert subject(load(bundle.controller_manager.cert), NameOID.ORGANIZATION_NAME) != ["system:masters"]
    names = load(bundle.virt_api.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert certs.VIRT_API_DNS in names.get_values_for_type(x509.DNSName)


def test_a_webhooks_certificate_is_signed_by_the_cluster_ca_as_a_tls_secret_holds_it(tmp_path: Path) -> None:
    bundle = certs.generate(tmp_path / "pki")
    folder = certs.webhook_certs(tmp_path / "webhook", bundle.ca)
    assert sorted(p.name for p in folder.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    load(folder / "tls.crt").verify_directly_issued_by(load(bundle.ca.cert))
    assert (folder / "ca.crt").read_bytes() == bundle.ca.cert.read_bytes()
