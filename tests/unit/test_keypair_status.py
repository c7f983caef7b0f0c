"""A Keypair's status: fingerprints and Ready for a valid key, Nova's 400 fault and Ready=False for
an invalid one, and the Secret a generated pair is kept in."""

from __future__ import annotations

from typing import Any

from kubenova import conditions, keypairs

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob"


def status(public_key: str, secret: str | None = None, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    return keypairs.status(
        key_type="ssh", public_key=public_key, secret=secret, previous=previous or {}, generation=2, now="T"
    )


def test_an_imported_key_is_ready_with_its_fingerprints() -> None:
    s = status(ED25519)
    assert s["fingerprint"] == keypairs.fingerprints(ED25519).md5
    assert s["fingerprintSha256"] == keypairs.fingerprints(ED25519).sha256
    assert (s["observedGeneration"], s["type"], s["publicKey"]) == (2, "ssh", ED25519)
    assert s["privateKeySecretRef"] is None
    assert s["fault"] is None  # a merge patch removes an earlier fault
    ready = conditions.get(s["conditions"], "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "Imported", 2)


def test_a_generated_key_names_its_secret() -> None:
    s = status(ED25519, secret="keypair-k")
    assert s["privateKeySecretRef"] == {"name": "keypair-k"}
    ready = conditions.get(s["conditions"], "Ready")
    assert ready is not None
    assert ready["reason"] == "Generated"
    assert ready["message"] == "The private key is in Secret keypair-k."


def test_an_invalid_key_gets_novas_fault_and_clears_the_fingerprints() -> None:
    s = status("ssh-rsa not-base64")
    assert s["fault"] == {"code": 400, "message": keypairs.INVALID_KEY, "created": "T"}
    assert s["fingerprint"] is None
    assert s["fingerprintSha256"] is None
    ready = conditions.get(s["conditions"], "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "InvalidPublicKey", keypairs.INVALID_KEY)


def test_a_recomputed_status_is_no_change_and_keeps_its_transition_time() -> None:
    first = status(ED25519)
    assert not conditions.differs(first, status(ED25519, previous=first))
    again = keypairs.status(key_type="ssh", public_key=ED25519, secret=None, previous=first, generation=3, now="T2")
    ready = conditions.get(again["conditions"], "Ready")
    assert ready is not None
    assert ready["lastTransitionTime"] == "T"


def test_a_generated_pair_goes_in_the_well_known_secret_shapes() -> None:
    pair = keypairs.Generated("PUBLIC", "PRIVATE")
    assert keypairs.secret_contents("ssh", pair) == (
        "kubernetes.io/ssh-auth",
        {"ssh-privatekey": "PRIVATE", "ssh-publickey": "PUBLIC"},
    )
    assert keypairs.secret_contents("x509", pair) == ("kubernetes.io/tls", {"tls.crt": "PUBLIC", "tls.key": "PRIVATE"})
    for key_type in ("ssh", "x509"):
        assert keypairs.secret_contents(key_type, pair)[1][keypairs.public_field(key_type)] == "PUBLIC"
    assert keypairs.secret_name("demo") == "keypair-demo"
