"""Property-based tests of the Compute API's pure request parsing (issue 15, "Bad input"): on
any input, the microversion headers give a served version or Nova's 400 (malformed) / 406 (out
of range), and a ``POST /servers`` body gives a Server spec or Nova's 400 with a message, never
another exception (which the API would answer with a 500).

A fixed seed in CI; ``KUBENOVA_FUZZ_EXAMPLES=500`` (examples per property) for a larger run.
The same strategies drive ``tests/integration/test_api_fuzz.py`` against ``kubenova api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubenova.compute_api import block_devices, body_types, microversions, server_networks, server_views
from kubenova.compute_api.errors import NovaError
from tests import fuzz_requests as fr

FUZZ = fr.fuzz_settings(300)


def refusal(fn: Callable[[], Any]) -> NovaError | None:
    """The NovaError ``fn`` raises, or None (any other exception fails the test)."""
    try:
        fn()
    except NovaError as exc:
        return exc
    return None


def expected(headers: dict[str, str]) -> tuple[int, str]:
    return fr.nova_version_answer(headers, microversions.MIN, microversions.MAX)


@FUZZ
@given(headers=fr.version_header_sets())
def test_microversion_headers_are_served_or_refused_as_nova_does(headers: dict[str, str]) -> None:
    code, wanted = expected(headers)
    exc = refusal(lambda: microversions.requested(headers))
    if exc is not None:
        assert (exc.code, bool(exc.message)) == (code, True), (headers, exc.message)
        return
    assert (code, str(microversions.requested(headers))) == (200, wanted), headers


@pytest.mark.parametrize(
    ("value", "code"),
    [("2.01", 400), ("02.1", 400), ("0.5", 400), ("2.0", 406), ("2.101", 406), ("3.0", 406), ("2.10", 200)],
)
def test_nova_s_version_format(value: str, code: int) -> None:
    headers = {"X-OpenStack-Nova-API-Version": value}
    assert expected(headers)[0] == code
    exc = refusal(lambda: microversions.requested(headers))
    assert (exc.code if exc else 200) == code


def create_spec(body: Any, version: microversions.Version, flavor_disk: int) -> dict[str, Any]:
    """What ``POST /servers`` does with a body before it reaches Kubernetes (servers.create)."""
    server = server_views.validate_create(body, version)
    hints = body.get("OS-SCH-HNT:scheduler_hints") or body.get("os:scheduler_hints")
    spec = server_views.server_spec(server, flavor="f", hints=hints, flavor_disk=flavor_disk)
    server_networks.networks(server.get("networks"), {})
    server_networks.security_groups(server.get("security_groups"))
    return spec


@FUZZ
@given(
    body=fr.server_bodies("f", "docker.io/library/busybox:1.36"),
    version=st.sampled_from(fr.SERVED[:-1]).map(microversions.parse),
    flavor_disk=st.sampled_from([0, 1, 20]),
)
def test_a_create_body_is_a_spec_or_nova_s_400(body: Any, version: microversions.Version, flavor_disk: int) -> None:
    exc = refusal(lambda: create_spec(body, version, flavor_disk))
    if exc is None:
        assert create_spec(body, version, flavor_disk)["flavor"] == "f"
    else:
        assert (exc.code, bool(exc.message)) == (400, True), exc.message


@FUZZ
@given(
    bdms=st.lists(fr.bdm, max_size=3),
    image=st.one_of(st.none(), st.just("img")),
    flavor_disk=st.sampled_from([0, 1, 20]),
)
def test_block_device_mappings_are_a_spec_or_nova_s_400(bdms: list[Any], image: str | None, flavor_disk: int) -> None:
    exc = refusal(lambda: block_devices.spec_of(bdms, image, flavor_disk=flavor_disk))
    assert exc is None or (exc.code, bool(exc.message)) == (400, True)


@pytest.mark.parametrize(
    ("server", "extra"),
    [
        ({"min_count": "²"}, {}),  # str.isdigit() but not int(): was a 500
        ({"max_count": "٣"}, {}),
        ({"metadata": {"a": 1}}, {}),
        ({"tags": [1]}, {}),
        ({"key_name": {"a": 1}}, {}),
        ({"user_data": 5}, {}),
        ({"availability_zone": ["nova"]}, {}),
        ({}, {"OS-SCH-HNT:scheduler_hints": {"same_host": 5}}),  # list(5): was a 500
        ({}, {"os:scheduler_hints": []}),
    ],
)
def test_create_members_of_the_wrong_type_are_nova_s_400(server: dict[str, Any], extra: dict[str, Any]) -> None:
    body = {"server": {"name": "x", "flavorRef": "f", "imageRef": "img", **server}, **extra}
    with pytest.raises(NovaError) as exc:
        create_spec(body, microversions.MIN, 0)
    assert exc.value.code == 400
    assert exc.value.message.startswith("Invalid input for field/attribute")


@FUZZ
@given(value=fr.json_values)
def test_nova_s_number_types_answer_a_number_or_nova_s_400(value: Any) -> None:
    for check in (body_types.quota_value, body_types.positive_integer, body_types.non_negative_integer):
        exc = refusal(lambda c=check: c("f", value))  # type: ignore[misc]
        if exc is None:
            number = check("f", value)
            assert isinstance(number, int)
            assert number >= -1
        else:
            assert exc.code == 400
            assert exc.message.startswith("Invalid input for field/attribute f.")


@pytest.mark.parametrize(
    ("value", "quota"),
    [(-1, -1), ("10", 10), ("-1", -1), (True, None), ("1.5", None), (-2, None), (2**31, None), (None, None)],
)
def test_quota_values_are_nova_s(value: Any, quota: int | None) -> None:
    exc = refusal(lambda: body_types.quota_value("cores", value))
    assert (body_types.quota_value("cores", value) if exc is None else None) == quota
