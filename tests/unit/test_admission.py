"""What the webhook refuses, with Nova's messages and codes, and what it leaves to the operator."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubenova import admission, quotas
from kubenova.admission import Refusal, View

FLAVORS: dict[str, dict[str, Any]] = {
    "small": {"vcpus": 1, "ram": 1024},
    "large": {"vcpus": 8, "ram": 8192},
    "disky": {"vcpus": 1, "ram": 1024, "disk": 10},
    "private": {"vcpus": 1, "ram": 512, "isPublic": False, "access": ["team-a"]},
}


def view(
    usage: quotas.Usage | None = None,
    limits: dict[str, int] | None = None,
    zones: dict[str, list[tuple[str, str | None]]] | None = None,
) -> View:
    return View(
        flavor=FLAVORS.get,
        keypair_exists=lambda ns, name: (ns, name) == ("team-a", "mine"),
        server_group_exists=lambda ns, name: (ns, name) == ("team-a", "grp"),
        group_members=lambda ns, group: ["m1", "m2"],
        limits=lambda ns: quotas.limits(limits or {}),
        usage=lambda ns: usage or quotas.Usage(),
        host_zones=lambda host: (zones or {}).get(host, []),
    )


def test_a_good_server_passes() -> None:
    spec = {"flavor": "small", "keyName": "mine", "schedulerHints": {"group": "grp"}}
    assert admission.server_create("team-a", "web", spec, view()) is None


def test_a_private_flavor_outside_its_access_list() -> None:
    assert admission.server_create("team-a", "w", {"flavor": "private"}, view()) is None
    assert admission.server_create("team-b", "w", {"flavor": "private"}, view()) == Refusal(
        "Flavor private is private and namespace team-b is not on its access list."
    )


def test_an_unknown_flavor_is_left_to_the_operator() -> None:
    assert admission.server_create("team-a", "w", {"flavor": "coming-soon"}, view()) is None


def test_a_keypair_or_group_of_another_namespace() -> None:
    r = admission.server_create("team-b", "w", {"flavor": "small", "keyName": "mine"}, view())
    assert r == Refusal("Invalid key_name provided: Keypair mine not found in team-b.")
    r = admission.server_create("team-b", "w", {"flavor": "small", "schedulerHints": {"group": "grp"}}, view())
    assert r == Refusal("Server group grp could not be found in team-b.", 404)


def test_over_quota_is_novas_403() -> None:
    full = view(quotas.Usage(instances=10), {"instances": 10})
    assert admission.server_create("team-a", "w", {"flavor": "small"}, full) == Refusal(
        "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances", 403
    )
    cores = view(quotas.Usage(instances=1, cores=16), {"cores": 20})
    r = admission.server_create("team-a", "w", {"flavor": "large"}, cores)
    assert r is not None
    assert r.code == 403
    assert r.message.startswith("Quota exceeded for cores: Requested 8")


def test_metadata_items_and_group_members() -> None:
    r = admission.server_create(
        "team-a", "w", {"flavor": "small", "metadata": {"a": "1", "b": "2"}}, view(limits={"metadataItems": 1})
    )
    assert r == Refusal("Maximum number of metadata items exceeds 1", 403)
    r = admission.server_create(
        "team-a", "w", {"flavor": "small", "schedulerHints": {"group": "grp"}}, view(limits={"serverGroupMembers": 2})
    )
    assert r == Refusal("Quota exceeded, too many servers in group", 403)


def test_a_resize_is_checked_for_its_growth_only() -> None:
    v = view(quotas.Usage(instances=1, cores=18, ram=1024), {"cores": 20})
    old, status = {"flavor": "small"}, {"flavor": FLAVORS["small"]}
    r = admission.server_update("team-a", old, {"flavor": "large"}, status, v)
    assert r is not None
    assert r.code == 403
    assert "cores" in r.message
    assert admission.server_update("team-a", {"flavor": "large"}, {"flavor": "small"}, {}, v) is None
    assert admission.server_update("team-a", old, {"flavor": "small", "state": "stopped"}, status, v) is None


def test_keypairs_and_server_groups_over_quota() -> None:
    assert admission.keypair_create("a", view(quotas.Usage(key_pairs=100))) == Refusal(
        "Quota exceeded, too many key pairs.", 403
    )
    assert admission.server_group_create("a", view(quotas.Usage(server_groups=9))) is None


def test_a_host_cannot_join_a_second_availability_zone() -> None:
    zones = {"h1": [("agg-a", "az-a"), ("ssd", None)]}
    assert admission.aggregate("agg-b", {"availabilityZone": "az-b", "hosts": ["h1"]}, view(zones=zones)) == Refusal(
        "Cannot add host h1 in aggregate agg-b: host h1 is already in availability zone(s) az-a; "
        "a host can be in one availability zone only."
    )
    assert admission.aggregate("agg-c", {"availabilityZone": "az-a", "hosts": ["h1"]}, view(zones=zones)) is None
    assert admission.aggregate("agg-a", {"availabilityZone": "az-z", "hosts": ["h1"]}, view(zones=zones)) is None
    assert admission.aggregate("plain", {"hosts": ["h1"]}, view(zones=zones)) is None


IMAGES: dict[str, dict[str, Any]] = {
    "cirros": {"spec": {"source": {"containerDisk": "quay.io/c:1"}, "visibility": "public", "minDisk": 50}},
    "private": {"spec": {"source": {"containerDisk": "quay.io/c:1"}, "visibility": "private", "owner": "team-b"}},
    "old": {"spec": {"source": {"containerDisk": "quay.io/c:1"}, "visibility": "public", "deactivated": True}},
    "fits": {"spec": {"source": {"containerDisk": "quay.io/c:1"}, "visibility": "public"}},
}


def find_image(name: str) -> dict[str, Any] | None:
    return IMAGES.get(name)


def image_view() -> View:
    return dataclasses.replace(view(), image=find_image)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("cirros", "Flavor's disk is too small for requested image."),
        ("private", "Can not find requested image"),
        ("old", "Image old is not active"),
    ],
)
def test_a_server_booting_an_image_it_may_not_is_refused_with_novas_400(image: str, message: str) -> None:
    refusal = admission.server_create("team-a", "web", {"flavor": "disky", "image": image}, image_view())
    assert refusal is not None
    assert refusal.code == 400
    assert refusal.message.startswith(message)


def test_a_plain_reference_or_a_fitting_image_passes() -> None:
    for image in ("nginx:1.27", "fits"):
        assert admission.server_create("team-a", "web", {"flavor": "small", "image": image}, image_view()) is None


def test_a_rebuild_to_an_image_that_does_not_fit_is_refused() -> None:
    old, new = {"flavor": "disky", "image": "fits"}, {"flavor": "disky", "image": "cirros"}
    refusal = admission.server_update("team-a", old, new, {}, image_view())
    assert refusal is not None
    assert refusal.message.startswith("Flavor's disk is too small")


def test_a_resize_below_the_booted_images_minimum_is_refused() -> None:
    status = {"image": "fits", "imageSource": {"source": {}, "minDisk": 0, "minRam": 100000}}
    old, new = {"flavor": "small", "image": "fits"}, {"flavor": "large", "image": "fits"}
    refusal = admission.server_update("team-a", old, new, status, image_view())
    assert refusal is not None
    assert refusal.message.startswith("Flavor's memory is too small")


def test_a_protected_image_cannot_be_deleted() -> None:
    refusal = admission.image_delete("golden", {"protected": True})
    assert refusal is not None
    assert refusal.code == 403
    assert refusal.message.startswith("Image golden is protected and cannot be deleted")
    assert admission.image_delete("golden", {"protected": False}) is None
