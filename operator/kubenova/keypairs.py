"""Keypair logic as Nova has it: validating public keys, fingerprints, and generating keys.

Pure; called by :mod:`kubenova.handlers.keypairs`. Nova's rules (``nova/crypto.py``):

* ssh: the key must parse as an OpenSSH public key; the fingerprint is the MD5 of the
  base64-decoded key blob (the second field), as colon-separated lowercase hex pairs. kubenova
  also gives OpenSSH's SHA256 form (``SHA256:<unpadded base64>``), which ``ssh-keygen -l`` shows
  by default today.
* x509: a PEM certificate; the fingerprint is the SHA-1 of the DER certificate, colon-separated.
* Generation (Nova before microversion 2.92): a 2048-bit RSA key, ``ssh-rsa <b64>
  Generated-by-Nova``; the private key is returned once and never stored. kubenova keeps it in
  a Secret of the Keypair's namespace instead, so the user can read it with kubectl.

Also the Keypair's status (:func:`status`, :func:`invalid_status`) and what its Secret holds
(:func:`secret_name`, :func:`secret_contents`); the handler reads and writes the Secret through
:mod:`kubenova.kube.secrets`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kubenova import conditions
from kubenova.nova import faults

INVALID_KEY = "Keypair data is invalid: failed to generate fingerprint"
GENERATED_COMMENT = "Generated-by-kubenova"


class InvalidKeypair(ValueError):
    """The public key cannot be used; the message is the fault shown to the user."""


@dataclasses.dataclass(frozen=True)
class Fingerprints:
    md5: str
    """Nova's fingerprint: MD5 (ssh) or SHA-1 (x509), colon-separated hex."""
    sha256: str
    """``SHA256:<base64>`` as ssh-keygen prints it (ssh), or the colon-hex SHA-256 (x509)."""


@dataclasses.dataclass(frozen=True)
class Generated:
    public_key: str
    private_key: str
    """PEM; lives only in a Secret of the Keypair's namespace."""


def fingerprints(public_key: str, key_type: str = "ssh") -> Fingerprints:
    if key_type == "x509":
        return _x509_fingerprints(public_key)
    return _ssh_fingerprints(public_key)


def generate(key_type: str = "ssh", *, subject: str = "kubenova") -> Generated:
    """A new key pair; for x509 a self-signed certificate (CN=subject, 10 years, as Nova did)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "x509":
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        public = cert.public_bytes(serialization.Encoding.PEM).decode()
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return Generated(public, private)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    return Generated(f"{public} {GENERATED_COMMENT}", private)


def public_from_private(private_key: str, key_type: str = "ssh", *, subject: str = "kubenova") -> str | None:
    """The ssh public key of a stored private key (so a restart reuses, never regenerates).

    For x509 the certificate cannot be recovered from the key alone, so None is returned and
    the caller keeps the certificate next to the key.
    """
    if key_type == "x509":
        return None
    key = serialization.load_ssh_private_key(private_key.encode(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{public} {GENERATED_COMMENT}"


def secret_name(keypair: str) -> str:
    """The Secret that keeps a generated key pair: one per Keypair, so a retry finds it. A
    Keypair's name may be 253 characters, a Secret's too: past that, the name is cut and a hash
    of the Keypair's name keeps it unique (shorter names are unchanged)."""
    name = f"keypair-{keypair}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(keypair.encode()).hexdigest()[:12]
    return f"{name[:240].rstrip('.-')}-{digest}"


def secret_labels(keypair: str) -> dict[str, str]:
    """The Secret's labels: the Keypair's name only when it fits a label value (63 characters)."""
    labels = {"app.kubernetes.io/managed-by": "kubenova"}
    if len(keypair) <= 63:
        labels["compute.kubenova.io/keypair"] = keypair
    return labels


def public_field(key_type: str) -> str:
    """The Secret's key that holds the public half."""
    return "tls.crt" if key_type == "x509" else "ssh-publickey"


def secret_contents(key_type: str, pair: Generated) -> tuple[str, dict[str, str]]:
    """The Secret's type and data for a generated pair, in the well-known shapes (a TLS Secret
    for x509, an ssh-auth Secret for ssh) so other tools can read them."""
    if key_type == "x509":
        return "kubernetes.io/tls", {"tls.crt": pair.public_key, "tls.key": pair.private_key}
    return "kubernetes.io/ssh-auth", {"ssh-privatekey": pair.private_key, "ssh-publickey": pair.public_key}


def status(
    *,
    key_type: str,
    public_key: str,
    secret: str | None,
    previous: Mapping[str, Any],
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """The Keypair's status for ``public_key`` (given in the spec, or generated and kept in the
    Secret ``secret``): its fingerprints, or Nova's fault if the key is invalid."""
    try:
        prints = fingerprints(public_key, key_type)
    except InvalidKeypair as exc:
        return invalid_status(str(exc), previous=previous, generation=generation, now=now)
    return {
        "observedGeneration": generation,
        "type": key_type,
        "publicKey": public_key,
        "fingerprint": prints.md5,
        "fingerprintSha256": prints.sha256,
        "privateKeySecretRef": {"name": secret} if secret else None,
        "fault": None,
        "conditions": conditions.ready(
            previous,
            ok=True,
            reason="Generated" if secret else "Imported",
            message=f"The private key is in Secret {secret}." if secret else "The public key is valid.",
            generation=generation,
            now=now,
        ),
    }


def invalid_status(message: str, *, previous: Mapping[str, Any], generation: int | None, now: str) -> dict[str, Any]:
    """A Keypair that cannot be used: Nova's 400 as its fault, and Ready=False. The key fields
    are cleared (None deletes them in a merge patch), so no stale fingerprint is shown."""
    return {
        "observedGeneration": generation,
        "fingerprint": None,
        "fingerprintSha256": None,
        "fault": faults.bad_request(message, now=now).to_status(),
        "conditions": conditions.ready(
            previous, ok=False, reason="InvalidPublicKey", message=message, generation=generation, now=now
        ),
    }


def _ssh_fingerprints(public_key: str) -> Fingerprints:
    fields = public_key.strip().split()
    if len(fields) < 2:
        raise InvalidKeypair(INVALID_KEY)
    try:
        blob = base64.b64decode(fields[1], validate=True)
        serialization.load_ssh_public_key(" ".join(fields[:2]).encode())
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidKeypair(INVALID_KEY) from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for unknown key types
        raise InvalidKeypair(INVALID_KEY) from exc
    md5 = _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())
    sha256 = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return Fingerprints(md5, sha256)


def _x509_fingerprints(pem: str) -> Fingerprints:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise InvalidKeypair(INVALID_KEY) from exc
    der = cert.public_bytes(serialization.Encoding.DER)
    return Fingerprints(
        _colon_hex(hashlib.sha1(der, usedforsecurity=False).digest()),
        _colon_hex(hashlib.sha256(der).digest()),
    )


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)
