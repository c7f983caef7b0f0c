"""Pure pieces tempest found missing: Nova names that are no Kubernetes names, the tenant usage
report, the older hypervisor statistics and uptime, and Nova's checks of a create's counts."""

from __future__ import annotations

import datetime as dt

import pytest

from kubenova.compute_api import hypervisor_extras, server_views, server_writes, tenant_usage, views
from kubenova.compute_api.errors import NovaError
from kubenova.compute_api.microversions import Version

T0 = dt.datetime(2026, 12, 1, 9, 0, 0)


@pytest.mark.parametrize(
    "nova", ["tempest-KeyPairsV2TestJSON-keypair-1392402553", "my key", "k" * 255, "key_@.x", "UPPER"]
)
def test_any_nova_name_maps_to_one_valid_kubernetes_name(nova: str) -> None:
    kube = views.object_name(nova)
    assert views.object_name(nova) == kube  # the same name, the same object: Nova's 409 is the API server's
    assert len(kube) <= 253
    assert ctx_valid(kube)
    assert views.nova_name({"metadata": {"name": kube, "annotations": views.name_annotations(nova)}}) == nova
    assert views.object_name(nova + "x") != kube


def ctx_valid(name: str) -> bool:
    from kubenova.compute_api.context import KUBE_NAME

    return bool(KUBE_NAME.match(name))


def test_a_valid_name_is_kept_as_is_without_an_annotation() -> None:
    assert views.object_name("web-keys") == "web-keys"
    assert views.name_annotations("web-keys") == {}


def server(ns: str, launched: str, ended: str | None = None, flavor: str = "m1") -> dict[str, object]:
    status: dict[str, object] = {"launchedAt": launched, "vmState": "active"}
    if ended:
        status["terminatedAt"] = ended
    return {
        "metadata": {"name": f"s-{launched}", "namespace": ns, "uid": f"u-{launched}"},
        "spec": {"flavor": flavor, "displayName": "web"},
        "status": status,
    }


def test_usage_counts_each_servers_hours_in_the_period_times_its_flavor() -> None:
    flavors = {"m1": {"metadata": {"name": "m1"}, "spec": {"vcpus": 2, "ram": 512, "disk": 10}}}
    servers = [
        server("a", "2026-12-01T08:00:00Z"),  # before the period: counted from its start
        server("a", "2026-12-01T09:30:00Z", "2026-12-01T10:00:00Z"),
        server("b", "2026-12-01T12:00:00Z"),  # after the period: left out
    ]
    start, stop, now = T0, T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=5)
    out = tenant_usage.tenant_usages(servers, flavors, start, stop, now)
    assert set(out) == {"a"}
    a = out["a"]
    assert a["total_hours"] == pytest.approx(2.5)
    assert a["total_vcpus_usage"] == pytest.approx(5.0)
    assert a["total_memory_mb_usage"] == pytest.approx(1280.0)
    ended = next(u for u in a["server_usages"] if u["ended_at"])
    assert (ended["state"], ended["hours"], ended["uptime"]) == ("terminated", 0.5, 1800)
    assert (a["start"], a["stop"]) == ("2026-12-01T09:00:00", "2026-12-01T11:00:00")


def test_a_period_that_ends_before_it_starts_is_novas_400() -> None:
    with pytest.raises(NovaError) as err:
        tenant_usage.period({"start": "2026-12-02T00:00:00", "end": "2026-12-01T00:00:00.5"}, T0)
    assert err.value.code == 400
    assert "start time cannot occur after the end time" in err.value.message
    assert tenant_usage.period({"start": "2026-12-01 00:00:00.000001"}, T0)[1] == T0


def test_hypervisor_statistics_sum_and_uptime_counts_from_registration() -> None:
    views_ = [{"vcpus": 4, "vcpus_used": 1, "memory_mb": 100}, {"vcpus": 2, "running_vms": 3}]
    stats = hypervisor_extras.statistics(views_)
    assert (stats["count"], stats["vcpus"], stats["vcpus_used"], stats["running_vms"]) == (2, 6, 1, 3)
    now = dt.datetime(2026, 12, 3, 10, 5, 0, tzinfo=dt.UTC)
    assert hypervisor_extras.uptime("2026-12-01T09:00:00Z", now) == " 10:05:00 up 2 days,  1:05"
    assert hypervisor_extras.uptime(None, now) == ""


@pytest.mark.parametrize("count", [0, -1, "x", True])
def test_min_and_max_count_below_one_are_novas_400(count: object) -> None:
    body = {"server": {"name": "a", "flavorRef": "1", "imageRef": "i", "min_count": count}}
    with pytest.raises(NovaError) as err:
        server_views.validate_create(body, Version(2, 1))
    assert err.value.code == 400


def test_a_rebuild_may_change_key_name_user_data_and_description_at_their_microversions() -> None:
    arg = {"key_name": "My Key", "user_data": "aGk=", "description": "d"}
    assert server_writes.rebuild_extras(arg, Version(2, 1)) == {}
    assert server_writes.rebuild_extras(arg, Version(2, 57)) == {
        "keyName": views.object_name("My Key"),
        "userData": "aGk=",
        "description": "d",
    }
    assert server_writes.rebuild_extras({"key_name": None}, Version(2, 54)) == {"keyName": None}


def test_access_addresses_are_kept_in_annotations_and_checked_by_family() -> None:
    out = server_writes.access_ip_annotations({"accessIPv4": "1.1.1.1", "accessIPv6": ""})
    assert out == {server_writes.ACCESS_IP["accessIPv4"]: "1.1.1.1", server_writes.ACCESS_IP["accessIPv6"]: None}
    with pytest.raises(NovaError):
        server_writes.access_ip_annotations({"accessIPv4": "::1"})
    v6 = server_writes.access_ip_annotations({"accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"})
    assert v6 == {server_writes.ACCESS_IP["accessIPv6"]: "::babe:dc0c:1602"}


def test_update_and_rebuild_answers_leave_shows_extras_out_before_2_75() -> None:
    view = {"id": "x", "OS-EXT-STS:vm_state": "active", "key_name": "k", "OS-SRV-USG:launched_at": None}
    assert server_writes.update_view(view, Version(2, 74)) == {"id": "x"}
    addressed = {"addresses": {"n": [{"addr": "10.0.0.2", "version": 4, "OS-EXT-IPS:type": "fixed"}]}}
    stripped = {"addresses": {"n": [{"addr": "10.0.0.2", "version": 4}]}}
    assert server_writes.update_view(addressed, Version(2, 1)) == stripped
    assert server_writes.update_view(view, Version(2, 75)) == view
    assert server_writes.update_view({"id": "x", "OS-EXT-SRV-ATTR:user_data": "u"}, Version(2, 75)) == {"id": "x"}
