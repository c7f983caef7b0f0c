"""The pure translators from kubenova's objects to Nova's JSON, per microversion, and back."""

from __future__ import annotations

from typing import Any

import pytest

from kubenova.compute_api import host_views, server_views, views
from kubenova.compute_api.errors import NovaError
from kubenova.compute_api.microversions import Version

BASE = "http://127.0.0.1:8774/compute"
UID = "9b3f0000-0000-4000-8000-000000000001"


def server(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "my-web-abc123",
            "namespace": "demo",
            "uid": UID,
            "creationTimestamp": "2026-12-01T09:00:00Z",
            "annotations": {views.USER_ANNOTATION: "u-1"},
        },
        "spec": {
            "displayName": "My Web",
            "flavor": "m1.small",
            "image": "nginx:1.27",
            "keyName": "k",
            "metadata": {"role": "web"},
            "tags": ["a"],
            "locked": True,
            "lockedReason": "why",
        },
        "status": {
            "id": UID,
            "status": "ACTIVE",
            "vmState": "active",
            "powerState": "RUNNING",
            "powerStateCode": 1,
            "host": "compute-0",
            "hypervisorHostname": "compute-0",
            "availabilityZone": "nova",
            "addresses": [{"network": "pod", "addr": "10.0.0.5", "version": 4, "type": "fixed"}],
            "flavor": {"originalName": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20, "extraSpecs": {"x": "y"}},
            "launchedAt": "2026-12-01T09:00:05Z",
            **status,
        },
    }


def test_a_server_at_2_1_has_novas_base_fields() -> None:
    v = server_views.server_view(server(), BASE, Version(2, 1), image_base="http://x/image")
    assert v["id"] == UID
    assert v["name"] == "My Web"
    assert (v["status"], v["tenant_id"], v["user_id"]) == ("ACTIVE", "demo", "u-1")
    assert v["flavor"] == {"id": "m1.small", "links": [{"rel": "bookmark", "href": f"{BASE}/flavors/m1.small"}]}
    assert v["image"]["id"] == views.image_id("nginx:1.27")
    assert v["addresses"] == {
        "pod": [{"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": None}]
    }
    assert (v["OS-EXT-STS:vm_state"], v["OS-EXT-STS:power_state"], v["OS-EXT-STS:task_state"]) == ("active", 1, None)
    assert v["OS-SRV-USG:launched_at"] == "2026-12-01T09:00:05.000000"
    assert v["progress"] == 0
    assert len(v["hostId"]) == 56
    assert "OS-EXT-SRV-ATTR:host" not in v  # admin only
    for later in ("locked", "description", "tags", "locked_reason", "scheduler_hints"):
        assert later not in v


def test_a_server_at_2_100_for_an_admin() -> None:
    v = server_views.server_view(server(), BASE, Version(2, 100), admin=True, show=True)
    assert v["flavor"] == {
        "vcpus": 1,
        "ram": 2048,
        "disk": 20,
        "ephemeral": 0,
        "swap": 0,
        "original_name": "m1.small",
        "extra_specs": {"x": "y"},
    }
    assert (v["locked"], v["locked_reason"], v["tags"]) == (True, "why", ["a"])
    assert v["OS-EXT-SRV-ATTR:host"] == "compute-0"
    assert v["OS-EXT-SRV-ATTR:hostname"] == "my-web-abc123"
    assert v["image"]["properties"] == {}
    assert v["server_groups"] == []
    assert v["scheduler_hints"] == {}


def test_building_has_no_addresses_and_only_error_a_fault() -> None:
    fault = {"code": 500, "message": "No valid host was found.", "created": "2026-12-01T09:00:01Z"}
    building = server_views.server_view(server(status="BUILD", fault=fault), BASE, Version(2, 1))
    assert building["addresses"] == {}
    assert "fault" not in building
    error = server_views.server_view(server(status="ERROR", fault=fault), BASE, Version(2, 1))
    assert error["fault"] == {"code": 500, "created": "2026-12-01T09:00:01Z", "message": "No valid host was found."}
    assert "progress" not in error


def test_a_server_not_yet_placed_takes_its_flavor_from_the_flavor() -> None:
    obj = server()
    obj["status"] = {}
    flavor = {"metadata": {"name": "m1.small"}, "spec": {"vcpus": 2, "ram": 4096}}
    v = server_views.server_view(obj, BASE, Version(2, 47), flavor=flavor)
    assert (v["status"], v["flavor"]["vcpus"], v["flavor"]["original_name"]) == ("BUILD", 2, "m1.small")
    assert v["OS-EXT-STS:vm_state"] == "building"


@pytest.mark.parametrize("ref", ["nginx:1.27", "docker.io/library/busybox:1.36", "r/x@sha256:" + "a" * 64])
def test_image_ids_never_hold_a_slash_and_map_back(ref: str) -> None:
    ident = views.image_id(ref)
    assert "/" not in ident
    assert views.image_reference(ident) == ref
    assert views.image_reference(f"http://h/image/v2/images/{ident}") == ref
    assert views.image_view(ref, "b")["name"] == ref


def test_a_raw_reference_is_itself() -> None:
    assert views.image_reference("nginx:1.27") == "nginx:1.27"


def test_kube_names_are_valid_for_any_nova_name() -> None:
    import re

    for name in ["My Web Server!", "ÜBER", "a" * 300, "---", "web.1"]:
        k = views.kube_name(name, suffix="abc123")
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", k), k
        assert len(k) <= 63
    assert views.kube_name("My Web Server!", suffix="x") == "my-web-server-x"


def test_create_body_to_spec() -> None:
    body = {
        "name": "web",
        "flavorRef": "http://h/compute/flavors/m1.small",
        "imageRef": views.image_id("nginx:1.27"),
        "key_name": "k",
        "user_data": "aGk=",
        "metadata": {"a": 1},
        "availability_zone": "az1",
        "tags": ["t"],
    }
    spec = server_views.server_spec(body, flavor="m1.small", hints={"group": "g", "different_host": "x"})
    assert spec == {
        "flavor": "m1.small",
        "displayName": "web",
        "image": "nginx:1.27",
        "keyName": "k",
        "userData": "aGk=",
        "availabilityZone": "az1",
        "metadata": {"a": "1"},
        "tags": ["t"],
        "schedulerHints": {"group": "g", "differentHost": ["x"]},
    }


def test_create_validation() -> None:
    ok: dict[str, Any] = {"server": {"name": "a", "flavorRef": "f", "imageRef": "i", "networks": "auto"}}
    assert server_views.validate_create(ok, Version(2, 100))["name"] == "a"
    bad: list[Any] = [
        None,
        {"server": {"flavorRef": "f", "imageRef": "i"}},
        {"server": {"name": "a", "imageRef": "i"}},
        {"server": {"name": "a", "flavorRef": "f"}},
        {"server": {"name": "a", "flavorRef": "f", "imageRef": "i"}},  # networks required from 2.37
        {
            "server": {
                "name": "a",
                "flavorRef": "f",
                "imageRef": "i",
                "networks": "none",
                "block_device_mapping_v2": [{"source_type": "volume", "destination_type": "volume"}],
            }
        },
    ]
    for body in bad:
        with pytest.raises(NovaError) as exc:
            server_views.validate_create(body, Version(2, 100))
        assert exc.value.code == 400
    image_bdm = {"source_type": "image", "destination_type": "local", "boot_index": 0}
    ok["server"]["block_device_mapping_v2"] = [image_bdm]
    server_views.validate_create(ok, Version(2, 100))


def flavor(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "m1.small", "uid": "f-uid"}, "spec": {"vcpus": 1, "ram": 2048, **spec}}


def test_flavors_per_microversion() -> None:
    old = views.flavor_view(flavor(swap=0), BASE, Version(2, 1))
    assert (old["id"], old["swap"], old["OS-FLV-DISABLED:disabled"], old["rxtx_factor"]) == ("m1.small", "", False, 1.0)
    assert "extra_specs" not in old
    assert "description" not in old
    new = views.flavor_view(flavor(extraSpecs={"a": "b"}, description="d"), BASE, Version(2, 61))
    assert (new["extra_specs"], new["description"], new["swap"]) == ({"a": "b"}, "d", "")
    assert views.flavor_view(flavor(), BASE, Version(2, 75))["swap"] == 0


def test_private_flavors_are_visible_to_their_projects_and_admins() -> None:
    private = flavor(isPublic=False, access=["demo"])
    assert views.flavor_visible(private, "demo", admin=False)
    assert not views.flavor_visible(private, "other", admin=False)
    assert views.flavor_visible(private, "other", admin=True)
    assert views.flavor_visible(flavor(), "other", admin=False)


def test_keypairs_per_microversion() -> None:
    kp = {
        "metadata": {"name": "k", "uid": "kp-uid", "creationTimestamp": "2026-12-01T09:00:00Z"},
        "spec": {},
        "status": {"publicKey": "ssh-ed25519 AAAA", "fingerprint": "aa:bb", "type": "ssh"},
    }
    assert views.keypair_view(kp, Version(2, 1)) == {
        "name": "k",
        "public_key": "ssh-ed25519 AAAA",
        "fingerprint": "aa:bb",
    }
    shown = views.keypair_view(kp, Version(2, 10), user_id="u", detail=True)
    assert (shown["type"], shown["user_id"], shown["deleted"]) == ("ssh", "u", False)
    assert isinstance(shown["id"], int)


def host() -> dict[str, Any]:
    return {
        "metadata": {"name": "compute-0", "uid": "h-uid", "creationTimestamp": "2026-12-01T09:00:00Z"},
        "spec": {"enabled": True},
        "status": {"state": "up", "status": "enabled", "vcpus": 8, "vcpusUsed": 2, "memoryMb": 1000, "memoryMbUsed": 0},
    }


def test_hypervisor_ids_are_integers_before_2_53_and_stable() -> None:
    old = host_views.hypervisor_view(host(), Version(2, 1), detail=True)
    assert isinstance(old["id"], int)
    assert old["id"] == host_views.hypervisor_view(host(), Version(2, 1), detail=True)["id"]
    assert (old["vcpus"], old["vcpus_used"], old["free_ram_mb"]) == (8, 2, 1000)
    new = host_views.hypervisor_view(host(), Version(2, 88), detail=True)
    assert new["id"] == "h-uid"
    assert "vcpus" not in new
    assert new["service"]["host"] == "compute-0"


def test_services_and_aggregates() -> None:
    s = host_views.service_view(host(), Version(2, 53))
    assert (s["binary"], s["host"], s["state"], s["forced_down"]) == ("nova-compute", "compute-0", "up", False)
    assert isinstance(host_views.service_view(host(), Version(2, 1))["id"], int)
    agg = {
        "metadata": {"name": "fast", "uid": "a-uid", "creationTimestamp": "2026-12-01T09:00:00Z"},
        "spec": {"hosts": ["compute-0"], "availabilityZone": "az1", "metadata": {"ssd": "true"}},
        "status": {"hosts": ["compute-0"]},
    }
    a = host_views.aggregate_view(agg, Version(2, 41))
    assert isinstance(a["id"], int)
    assert (a["uuid"], a["availability_zone"], a["hosts"]) == ("a-uid", "az1", ["compute-0"])
    assert a["metadata"] == {"ssd": "true", "availability_zone": "az1"}


def test_server_groups_per_microversion() -> None:
    g = {
        "metadata": {"name": "spread-abc", "namespace": "demo", "uid": "g-uid",
                     "annotations": {views.NAME_ANNOTATION: "spread"}},
        "spec": {"policy": "anti-affinity", "maxServerPerHost": 2},
        "status": {"members": [{"name": "s", "uid": "s-uid", "namespace": "demo"}]},
    }  # fmt: skip
    old = host_views.server_group_view(g, Version(2, 1))
    assert (old["name"], old["policies"], old["members"], old["metadata"]) == (
        "spread",
        ["anti-affinity"],
        ["s-uid"],
        {},
    )
    new = host_views.server_group_view(g, Version(2, 64))
    assert (new["policy"], new["rules"], new["project_id"]) == ("anti-affinity", {"max_server_per_host": 2}, "demo")


def test_instance_actions_newest_first() -> None:
    obj = server(
        actions=[
            {"requestId": "req-1", "action": "create", "startTime": "2026-12-01T09:00:00Z", "result": "Success"},
            {"requestId": "req-2", "action": "stop", "startTime": "2026-12-01T09:01:00Z", "result": "Error",
             "message": "boom", "finishTime": "2026-12-01T09:01:01Z"},
        ]
    )  # fmt: skip
    acts = server_views.instance_actions(obj, Version(2, 84))
    assert [a["request_id"] for a in acts] == ["req-2", "req-1"]
    assert (acts[0]["message"], acts[1]["message"]) == ("boom", None)
    assert acts[0]["updated_at"] == "2026-12-01T09:01:01.000000"
    ev = server_views.instance_action_events(acts[0]["_record"], Version(2, 84), host="compute-0")
    assert ev == [
        {
            "event": "compute_stop",
            "start_time": "2026-12-01T09:01:00.000000",
            "finish_time": "2026-12-01T09:01:01.000000",
            "result": "Error",
            "host": "compute-0",
            "hostId": "",
            "details": "boom",
        }
    ]


def test_a_change_the_operator_has_not_taken_up_shows_its_first_task_state() -> None:
    obj = server()
    obj["metadata"]["generation"] = 2
    obj["status"].update(observedGeneration=1, image="nginx:1.26")
    v = server_views.server_view(obj, BASE, Version(2, 1))
    assert (v["status"], v["OS-EXT-STS:task_state"]) == ("REBUILD", "rebuilding")
    obj["status"]["observedGeneration"] = 2  # seen: the operator's status is the truth again
    assert server_views.server_view(obj, BASE, Version(2, 1))["status"] == "ACTIVE"
    reboot = {"spec": {"server": "my-web-abc123", "action": "reboot", "type": "HARD"}, "status": {}}
    v = server_views.server_view(obj, BASE, Version(2, 1), server_actions=[reboot])
    assert (v["status"], v["OS-EXT-STS:task_state"]) == ("HARD_REBOOT", "rebooting_hard")
    reboot["status"] = {"phase": "Succeeded"}
    assert server_views.pending(obj, [reboot]) is None
