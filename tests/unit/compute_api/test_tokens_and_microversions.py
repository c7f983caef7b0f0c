"""Keystone tokens (Fernet: opaque, authenticated, expiring) and Nova's microversion headers."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from kubenova.compute_api import microversions as mv
from kubenova.compute_api.errors import NovaError, body
from kubenova.compute_api.tokens import BadToken, Claims, Tokens, new_key


def claims(**kw: object) -> Claims:
    base: dict[str, object] = {
        "bearer": "k8s-token",
        "user": "system:serviceaccount:demo:demo",
        "user_id": "uid-1",
        "project": "demo",
        "roles": ("member", "reader"),
        "issued_at": 1000,
        "expires_at": 4600,
    }
    base.update(kw)
    return Claims(**base)  # type: ignore[arg-type]


def test_a_token_round_trips_and_hides_the_bearer() -> None:
    tokens = Tokens(new_key())
    tok = tokens.issue(claims())
    assert "k8s-token" not in tok
    assert tokens.read(tok, now=2000) == claims()
    assert not tokens.read(tok, now=2000).admin
    assert tokens.read(tokens.issue(claims(roles=("admin", "member", "reader"))), now=2000).admin


def test_an_expired_token_is_refused() -> None:
    tokens = Tokens(new_key())
    tok = tokens.issue(claims())
    with pytest.raises(BadToken):
        tokens.read(tok, now=4600)


@pytest.mark.parametrize("tok", ["", "garbage", "gAAAAABnot-fernet"])
def test_anything_else_is_refused(tok: str) -> None:
    with pytest.raises(BadToken):
        Tokens(new_key()).read(tok, now=2000)


def test_another_keys_token_is_refused() -> None:
    other = Tokens(Fernet.generate_key())
    with pytest.raises(BadToken):
        Tokens(new_key()).read(other.issue(claims()), now=2000)


@pytest.mark.parametrize(
    ("headers", "wanted"),
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.47"}, "2.47"),
        ({"OpenStack-API-Version": "image 2.5, compute 2.61"}, "2.61"),
        ({"X-OpenStack-Nova-API-Version": "2.10"}, "2.10"),
        ({"OpenStack-API-Version": "compute latest"}, "2.100"),
        ({"OpenStack-API-Version": "compute 2.9", "X-OpenStack-Nova-API-Version": "2.50"}, "2.9"),
    ],
)
def test_the_requested_version(headers: dict[str, str], wanted: str) -> None:
    assert str(mv.requested(headers)) == wanted


def test_outside_the_range_is_406_and_garbage_400() -> None:
    with pytest.raises(NovaError) as exc:
        mv.requested({"OpenStack-API-Version": "compute 2.101"})
    assert exc.value.code == 406
    assert exc.value.message == "Version 2.101 is not supported by the API. Minimum is 2.1 and maximum is 2.100."
    with pytest.raises(NovaError) as exc:
        mv.requested({"OpenStack-API-Version": "compute 3.0"})
    assert exc.value.code == 406
    with pytest.raises(NovaError) as exc:
        mv.requested({"X-OpenStack-Nova-API-Version": "two"})
    assert exc.value.code == 400


def test_versions_compare_numerically() -> None:
    assert mv.parse("2.10") > mv.parse("2.9")
    assert mv.Version(2, 47).at_least("2.47")
    assert not mv.Version(2, 46).at_least("2.47")
    assert mv.response_headers(mv.Version(2, 61))["OpenStack-API-Version"] == "compute 2.61"


def test_fault_bodies_use_novas_names() -> None:
    assert body(404, "Instance x could not be found.") == {
        "itemNotFound": {"code": 404, "message": "Instance x could not be found."}
    }
    assert next(iter(body(409, "m"))) == "conflictingRequest"
    assert next(iter(body(406, "m"))) == "computeFault"
    assert next(iter(body(403, "m"))) == "forbidden"
    assert next(iter(body(400, "m"))) == "badRequest"
