"""POST /servers's ``networks`` and ``security_groups`` as a Server's spec."""

from __future__ import annotations

import pytest

from kubenova.compute_api import server_networks as sn
from kubenova.compute_api.errors import NovaError


def test_auto_none_and_left_out() -> None:
    assert sn.networks(None, {}) is None
    assert sn.networks("auto", {}) == [{"network": "auto"}]
    assert sn.networks("none", {}) == [{"network": "none"}]


def test_a_uuid_is_an_attachments_uid_or_name_with_fixed_ip_and_tag() -> None:
    uids = {"5e3c9d7a-0000-4000-8000-000000000001": "storage"}
    got = sn.networks(
        [
            {"uuid": "pod"},
            {"uuid": "5e3c9d7a-0000-4000-8000-000000000001", "fixed_ip": "192.0.2.5"},
            {"uuid": "infra/fast", "tag": "nic2"},
        ],
        uids,
    )
    assert got == [
        {"network": "pod"},
        {"network": "storage", "fixedIp": "192.0.2.5"},
        {"network": "infra/fast", "tag": "nic2"},
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"port": "p1"}], "Requesting a port is not supported"),
        ([{"uuid": "Bad Name"}], "network uuid is not in proper format"),
        ([{}], "network uuid is not in proper format"),
        ("some", "Invalid input for field/attribute networks"),
    ],
)
def test_what_cannot_be_a_network_is_refused(value: object, message: str) -> None:
    with pytest.raises(NovaError, match=message) as exc:
        sn.networks(value, {})
    assert exc.value.code == 400


def test_security_groups_by_name() -> None:
    assert sn.security_groups(None) is None
    assert sn.security_groups([{"name": "web"}, {"name": "db"}, {"name": "web"}]) == ["web", "db"]
    with pytest.raises(NovaError):
        sn.security_groups([{"id": "x"}])
    assert sn.shown({}) == [{"name": "default"}]
    assert sn.shown({"securityGroups": ["web"]}) == [{"name": "web"}]


def test_add_and_remove_security_group_as_nova() -> None:
    spec = {"securityGroups": ["default"]}
    assert sn.changed_groups(spec, "addSecurityGroup", {"name": "web"}, "u") == ["default", "web"]
    assert sn.changed_groups({}, "removeSecurityGroup", {"name": "default"}, "u") == []
    with pytest.raises(NovaError, match="already associated") as added:
        sn.changed_groups(spec, "addSecurityGroup", {"name": "default"}, "u")
    assert added.value.code == 400
    with pytest.raises(NovaError, match="not associated with the instance u") as removed:
        sn.changed_groups(spec, "removeSecurityGroup", {"name": "web"}, "u")
    assert removed.value.code == 404
    with pytest.raises(NovaError, match="'name' is a required property"):
        sn.changed_groups(spec, "addSecurityGroup", None, "u")
