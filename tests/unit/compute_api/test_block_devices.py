"""block_device_mapping_v2 onto the Server's bootVolume, image and volumes, with Nova's 400s."""

from __future__ import annotations

from typing import Any

import pytest

from kubenova.compute_api import block_devices, server_views
from kubenova.compute_api.errors import NovaError


def vol(uuid: str, **kw: Any) -> dict[str, Any]:
    return {"source_type": "volume", "destination_type": "volume", "uuid": uuid, **kw}


def test_boot_from_a_volume_and_attach_another() -> None:
    body = {
        "name": "bfv",
        "block_device_mapping_v2": [vol("root", boot_index=0), vol("data", boot_index=-1, delete_on_termination=True)],
    }
    spec = server_views.server_spec(body, flavor="f", hints=None)
    assert spec["bootVolume"] == {"claimName": "root"}
    assert "image" not in spec
    assert spec["volumes"] == [{"claimName": "data", "deleteOnTermination": True}]


def test_an_image_to_a_boot_volume_is_the_image_with_its_root_disk() -> None:
    bdm = {"source_type": "image", "destination_type": "volume", "uuid": "cirros", "boot_index": 0, "volume_size": 1}
    spec = server_views.server_spec(
        {"name": "x", "block_device_mapping_v2": [bdm]}, flavor="f", hints=None, flavor_disk=1
    )
    assert spec["image"] == "cirros"
    with pytest.raises(NovaError, match="volume_size 5 is larger"):
        block_devices.spec_of([{**bdm, "volume_size": 5}], None, flavor_disk=1)


@pytest.mark.parametrize(
    ("bdms", "image", "message"),
    [
        ([vol("a", boot_index=0), vol("b", boot_index=0)], None, "Boot sequence"),
        ([{"source_type": "volume", "destination_type": "volume", "boot_index": 0}], None, "Missing device UUID"),
        ([{"source_type": "cdrom", "uuid": "a"}], None, "source_type"),
        ([{"source_type": "blank", "destination_type": "volume", "volume_size": 1}], "img", "not supported"),
        ([vol("a", boot_index=0, delete_on_termination=True)], None, "delete_on_termination must be false"),
        ([vol("a", boot_index=1)], None, "Missing imageRef"),
        ([vol("a", boot_index=0, destination_type="local")], None, "destination_type volume"),
    ],
)
def test_bad_mappings_are_400s(bdms: list[dict[str, Any]], image: str | None, message: str) -> None:
    with pytest.raises(NovaError, match=message) as err:
        block_devices.spec_of(bdms, image, flavor_disk=0)
    assert err.value.code == 400
