"""Glance's JSON for an Image, and who sees it in ``GET /v2/images``."""

from __future__ import annotations

from typing import Any

from kubenova.compute_api import image_views, views


def image(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": "2026-12-01T09:00:00Z"},
        "spec": {"source": {"containerDisk": "quay.io/c@sha256:abc"}, **spec},
        "status": {"id": f"uid-{name}", "status": "active", "checksum": "sha256:abc", "size": 10},
    }


def test_the_view_is_glances_with_properties_flattened() -> None:
    obj = image(
        "cirros", visibility="private", owner="demo", diskFormat="qcow2", minDisk=1, minRam=64,
        protected=True, properties={"os_distro": "cirros", "name": "clash"},
    )  # fmt: skip
    v = image_views.glance_view(obj)
    assert v["id"] == views.image_id("cirros")
    assert views.image_reference(v["id"]) == "cirros"  # what a server's spec.image then names
    assert (v["status"], v["visibility"], v["owner"], v["protected"]) == ("active", "private", "demo", True)
    assert (v["disk_format"], v["container_format"], v["min_disk"], v["min_ram"]) == ("qcow2", "bare", 1, 64)
    assert (v["size"], v["checksum"], v["os_hash_algo"], v["os_hash_value"]) == (10, "sha256:abc", "sha256", "abc")
    assert v["os_distro"] == "cirros"
    assert v["name"] == "cirros"  # a property never overwrites Glance's own fields
    assert image_views.glance_view(image("d", deactivated=True))["status"] == "deactivated"


def test_visibility_follows_glance() -> None:
    objs = [
        image("pub", visibility="public"),
        image("mine", visibility="private", owner="demo"),
        image("theirs", visibility="private", owner="other"),
        image("shared-with-me", visibility="shared", owner="other", members=["demo"]),
        image("shared-elsewhere", visibility="shared", owner="other", members=["x"]),
        image("community", visibility="community", owner="other"),
    ]

    def names(**query: str) -> list[str]:
        return sorted(v["name"] for v in image_views.listed(objs, "demo", admin=False, query=query))

    assert names() == ["mine", "pub", "shared-with-me"]  # community only when asked for
    assert names(visibility="community") == ["community"]
    assert names(visibility="all") == ["community", "mine", "pub", "shared-with-me"]
    assert names(name="pub") == ["pub"]
    assert names(id=f"in:{views.image_id('mine')},uid-pub") == ["mine", "pub"]
    admin = image_views.listed(objs, "demo", admin=True, query={"visibility": "all"})
    assert len(admin) == len(objs)
