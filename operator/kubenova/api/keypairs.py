"""Keypair: Nova's keypair, namespaced (a namespace is a Nova project).

Give ``publicKey`` to import a key; leave it out and the operator generates one, keeping the
private key only in a Secret of the same namespace (never in status). Like Nova's, a keypair
cannot be changed once made: delete it and create another.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import AGE, ApiModel, Column, Fault, Kind, StatusBase, rule, rules


class KeypairSpec(ApiModel):
    """The key to import, or nothing to have one generated."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule("self == oldSelf", "a Keypair is immutable, as in Nova: delete it and create another"),
        )
    }

    type: Literal["ssh", "x509"] = "ssh"
    """ssh (an OpenSSH public key) or x509 (a PEM certificate), as Nova's key_type."""
    public_key: str | None = Field(default=None, min_length=1, max_length=16384)
    """The public key to import (OpenSSH format, or a PEM certificate for x509). Leave it out to
    have a key generated: its private key goes to the Secret named in status.privateKeySecretRef."""


class SecretRef(ApiModel):
    """A Secret in the Keypair's namespace."""

    name: str = Field(max_length=253)
    """The Secret's name."""


class KeypairStatus(StatusBase):
    """The keypair as Nova shows it."""

    CONDITIONS = "Ready once the key is valid (and generated, if it had to be)."

    type: Literal["ssh", "x509"] | None = None
    """The key's type."""
    public_key: str | None = Field(default=None, max_length=16384)
    """The public key, imported or generated."""
    fingerprint: str | None = Field(default=None, max_length=128)
    """Nova's fingerprint: MD5 in colon form for ssh keys, SHA-1 of the DER certificate for x509."""
    fingerprint_sha256: str | None = Field(default=None, max_length=128)
    """The SHA256 fingerprint, as ssh-keygen -l prints it."""
    private_key_secret_ref: SecretRef | None = None
    """Where a generated private key is: a Secret readable only in this namespace."""
    fault: Fault | None = None
    """Why the keypair is unusable (an invalid public key, for example)."""


KIND = Kind(
    kind="Keypair",
    plural="keypairs",
    short_names=("kp",),
    scope="Namespaced",
    description="A Nova keypair: an ssh key (or x509 certificate) injected into the namespace's servers.",
    spec=KeypairSpec,
    status=KeypairStatus,
    spec_required=False,
    columns=(
        Column("Fingerprint", ".status.fingerprint"),
        Column("Type", ".status.type"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        Column("SHA256", ".status.fingerprintSha256", priority=1),
        AGE,
    ),
)
