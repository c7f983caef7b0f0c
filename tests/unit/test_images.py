"""Images, pure: Glance's status, visibility, and Nova's checks of a server booting an image."""

from __future__ import annotations

from typing import Any

import pytest

from kubenova import images

NOW = "2026-01-01T00:00:00Z"
CIRROS = {"containerDisk": "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"}


def image(**spec: Any) -> dict[str, Any]:
    return {"spec": {"source": CIRROS, "visibility": "public", **spec}, "status": {}}


def test_an_image_is_active_at_once_and_ready() -> None:
    status = images.desired_status(image()["spec"], {}, uid="u1", generation=1, now=NOW)
    assert status["status"] == "active"
    assert status["id"] == "u1"
    assert status["sourceType"] == "containerDisk"
    assert status["updatedAt"] == NOW
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [("Ready", "True")]


def test_a_deactivated_image_is_not_ready_and_reactivates() -> None:
    spec = image(deactivated=True)["spec"]
    status = images.desired_status(spec, {}, uid="u1", generation=2, now=NOW)
    assert status["status"] == "deactivated"
    assert status["conditions"][0]["status"] == "False"
    again = images.desired_status(image()["spec"], status, uid="u1", generation=3, now=NOW)
    assert again["status"] == "active"


def test_updated_at_is_written_only_when_the_status_changes() -> None:
    first = images.desired_status(image()["spec"], {}, uid="u1", generation=1, now=NOW)
    second = images.desired_status(image()["spec"], first, uid="u1", generation=1, now="2026-01-02T00:00:00Z")
    assert "updatedAt" not in second


def test_a_digest_pinned_source_gives_the_checksum() -> None:
    spec = {"source": {"registry": "docker://quay.io/containerdisks/fedora@sha256:abc"}}
    assert images.checksum(spec) == "sha256:abc"
    assert images.checksum({"source": {"http": "https://example.org/x.qcow2"}}) is None


@pytest.mark.parametrize(
    ("spec", "namespace", "allowed"),
    [
        ({"visibility": "public"}, "any", True),
        ({"visibility": "community", "owner": "a"}, "b", True),
        ({"visibility": "private", "owner": "a"}, "a", True),
        ({"visibility": "private", "owner": "a"}, "b", False),
        ({"visibility": "shared", "owner": "a", "members": ["b"]}, "b", True),
        ({"visibility": "shared", "owner": "a", "members": ["b"]}, "c", False),
        ({"owner": "a"}, "c", False),  # Glance's default visibility: shared
    ],
)
def test_visibility_decides_who_may_boot_an_image(spec: dict[str, Any], namespace: str, allowed: bool) -> None:
    assert images.may_use(spec, namespace) is allowed


def test_a_private_image_of_another_namespace_cannot_be_found() -> None:
    problem = images.boot_problem("secret", image(visibility="private", owner="a"), "b", None)
    assert problem is not None
    assert problem.code == 400
    assert problem.message.startswith("Can not find requested image")


def test_an_image_that_is_not_active_is_refused_unless_the_status_is_not_checked() -> None:
    problem = images.boot_problem("old", image(deactivated=True), "b", {"ram": 512, "disk": 1})
    assert problem == images.Problem("Image old is not active (its status is deactivated).")
    assert images.boot_problem("old", image(deactivated=True), "b", None, check_status=False) is None


def test_flavor_memory_below_min_ram_is_refused_with_novas_message() -> None:
    problem = images.boot_problem("big", image(minRam=1024), "b", {"ram": 512, "disk": 10})
    assert problem is not None
    assert problem.code == 400
    assert problem.message.startswith("Flavor's memory is too small for requested image.")


def test_flavor_disk_below_min_disk_is_refused_with_novas_message() -> None:
    problem = images.boot_problem("big", image(minDisk=20), "b", {"ram": 512, "disk": 10})
    assert problem is not None
    assert problem.code == 400
    assert problem.message == (
        "Flavor's disk is too small for requested image. "
        f"Flavor disk is {10 * images.GiB} bytes, minimum size is {20 * images.GiB} bytes."
    )


def test_a_flavor_disk_of_zero_is_not_checked_as_in_nova() -> None:
    assert images.boot_problem("big", image(minDisk=20), "b", {"ram": 512, "disk": 0}) is None


def test_memory_is_checked_before_disk_as_in_nova() -> None:
    problem = images.boot_problem("big", image(minDisk=20, minRam=1024), "b", {"ram": 512, "disk": 10})
    assert problem is not None
    assert "memory" in problem.message


def test_what_a_server_records_of_its_image() -> None:
    img = image(minDisk=2, properties={"hw_firmware_type": "uefi"})
    assert images.boot_source(img) == {
        "source": CIRROS,
        "minDisk": 2,
        "minRam": 0,
        "properties": {"hw_firmware_type": "uefi"},
    }
    assert images.container_image(img) == CIRROS["containerDisk"]
    assert images.container_image(image(source={"http": "https://example.org/x.img"})) is None


def test_a_failed_import_of_its_source_kills_the_image_and_the_reason_stays() -> None:
    spec = {"source": {"http": "https://does-not-exist.invalid/x.img"}, "visibility": "public"}
    killed = images.desired_status(spec, {}, uid="u1", generation=1, now=NOW, import_failure="no such host")
    assert killed["status"] == "killed"
    ready = killed["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "Killed")
    assert ready["message"] == "The image is killed: importing its source failed: no such host"
    # The next event without the DataVolume keeps it killed, and keeps saying why.
    again = images.desired_status(spec, killed, uid="u1", generation=1, now=NOW)
    assert again["status"] == "killed"
    assert again["conditions"][0]["message"] == ready["message"]


def test_a_deactivated_image_is_not_killed_by_an_import() -> None:
    spec = {"source": CIRROS, "deactivated": True}
    assert (
        images.desired_status(spec, {}, uid="u", generation=1, now=NOW, import_failure="x")["status"] == "deactivated"
    )
