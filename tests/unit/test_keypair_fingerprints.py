"""Keypair fingerprints match Nova's algorithm (MD5 of the key blob, colon hex) and OpenSSH's
SHA256 form. The expected values were computed by OpenSSH's ssh-keygen and by openssl, not by
kubenova, so they check the algorithm rather than repeat it.
"""

from __future__ import annotations

import pytest

from kubenova import keypairs

RSA = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDNwKVii43I+X2s3Go7Ae7RCxn6sII7o0cJZVkcbr/8VfapZS8DS44+XjO4TPS+jA4eOznDow6hV"
    "wWxOGGbX8ekUS9rV6tt/QdsMGu8DXDntsKjh9HBQkVQUDsJDJUdREu3PjYGcWS2f9Q2+Z7Hjr0MemKLm+xEYwAYrQLWhEAZltUANBzn3pojrc9dP"
    "O3hEz9kCSR28rIUGqP3F500nizLollLW8bqcoQlvauNgJFCZxw22Z0yv816WwjBOi+V4UC8m/td21hNq4RMNUj5Zk3fI+nFYOqPqLTlr1RwqASGC"
    "vGra08sdw2Zl7hshss8m0OSwUDzN/kAXZ7hFc8OpFTl alice@example"
)
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDNb5XS3vjRtgp7HmaQF/sOn2Ecpt1Tx4TqKYO4NVb5x bob"


@pytest.mark.parametrize(
    ("key", "md5", "sha256"),
    [
        (
            RSA,
            "f9:b8:14:2c:6b:00:66:9f:9a:13:8a:1c:df:4e:35:f0",
            "SHA256:5PlpLOfp5vj64MOxFNrd2Xv8VpANm/bdU3s7DCwW7dY",
        ),
        (
            ED25519,
            "0d:4d:c5:77:9f:65:dd:7c:9a:20:3d:98:6a:46:17:a1",
            "SHA256:sYCcah8RxwvfvJ8k4VmgYrkPtsqTbABHvtuQci97iCE",
        ),
    ],
    ids=["rsa", "ed25519"],
)
def test_ssh_fingerprints_match_ssh_keygen(key: str, md5: str, sha256: str) -> None:
    prints = keypairs.fingerprints(key)
    assert prints.md5 == md5
    assert prints.sha256 == sha256


def test_the_comment_does_not_change_the_fingerprint() -> None:
    bare = " ".join(ED25519.split()[:2])
    assert keypairs.fingerprints(bare) == keypairs.fingerprints(ED25519 + " more words")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "ssh-rsa",
        "ssh-rsa not-base64!!",
        "ssh-rsa AAAAB3NzaC1yc2E=",  # valid base64, not a key
        "ssh-ed25519 " + RSA.split()[1],  # the type does not match the blob
        "-----BEGIN PUBLIC KEY-----",
    ],
)
def test_an_invalid_ssh_key_gives_novas_fault(key: str) -> None:
    with pytest.raises(keypairs.InvalidKeypair, match="Keypair data is invalid: failed to generate fingerprint"):
        keypairs.fingerprints(key)


def test_x509_fingerprint_is_sha1_of_the_der_certificate() -> None:
    generated = keypairs.generate("x509", subject="demo")
    prints = keypairs.fingerprints(generated.public_key, "x509")
    assert len(prints.md5.split(":")) == 20  # SHA-1
    assert len(prints.sha256.split(":")) == 32


def test_a_generated_ssh_key_round_trips_and_is_marked() -> None:
    generated = keypairs.generate()
    assert generated.public_key.startswith("ssh-rsa ")
    assert generated.public_key.endswith(keypairs.GENERATED_COMMENT)
    assert "PRIVATE KEY" in generated.private_key
    assert keypairs.public_from_private(generated.private_key) == generated.public_key
    keypairs.fingerprints(generated.public_key)  # valid
