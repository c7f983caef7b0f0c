"""``block_device_mapping_v2`` of a server create, pure: Nova's boot-from-volume and extra
volumes mapped onto the Server's ``bootVolume`` and ``volumes``, with Nova's 400s.

A volume is a PersistentVolumeClaim of the server's namespace, named by its Kubernetes name in
``uuid`` (kubenova's volume ids; os-volume_attachments shows the same). What maps:

* ``source_type: image, destination_type: local`` (what the CLI sends with ``--image``): the
  server's image, nothing more.
* ``source_type: volume, destination_type: volume, boot_index: 0``: boot from that claim
  (``spec.bootVolume``, KubeVirt only). The claim is the user's and outlives the server, so
  ``delete_on_termination: true`` is refused rather than ignored.
* ``source_type: image, destination_type: volume, boot_index: 0``: Nova makes a volume from the
  image and boots it. kubenova's KubeVirt backend does exactly that for every image-booted
  server (a root DataVolume imported from the Image, deleted with the server), so it is the
  image; the root disk is sized by the flavor's disk, so a ``volume_size`` must not exceed it
  (``delete_on_termination: false`` is refused: the root disk goes with the server).
* ``source_type: volume, destination_type: volume`` without boot_index 0: an attached volume
  (``spec.volumes``), with ``delete_on_termination``.
* anything else (``blank``, ``snapshot``, ``destination_type: local`` for a volume): Nova's 400,
  or kubenova's 400 naming what it does not do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubenova.compute_api.errors import bad_request

INVALID = "Block Device Mapping is Invalid: "
SOURCES = ("image", "volume", "snapshot", "blank")
DESTINATIONS = ("local", "volume")


def _boot_index(bdm: Mapping[str, Any]) -> int | None:
    value = bdm.get("boot_index")
    if value is None or value == "none":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid input for field/attribute boot_index. Value: {value}.") from None


def _checked(bdm: Any) -> tuple[str, str, int | None]:
    if not isinstance(bdm, Mapping):
        raise bad_request("Invalid input for field/attribute block_device_mapping_v2.")
    source, dest = bdm.get("source_type"), bdm.get("destination_type", "volume")
    if source not in SOURCES:
        raise bad_request(f"Invalid input for field/attribute source_type. Value: {source}.")
    if dest not in DESTINATIONS:
        raise bad_request(f"Invalid input for field/attribute destination_type. Value: {dest}.")
    if (source, dest) != ("image", "local") and source in ("image", "volume", "snapshot") and not bdm.get("uuid"):
        raise bad_request(INVALID + f"Missing device UUID for a {source} source.")
    return str(source), str(dest), _boot_index(bdm)


def spec_of(bdms: Sequence[Any], image_ref: str | None, *, flavor_disk: int) -> dict[str, Any]:
    """The Server spec's ``image``/``bootVolume``/``volumes`` for a create's mappings and imageRef
    (an image id, already resolved to what ``spec.image`` names, or None)."""
    out: dict[str, Any] = {}
    volumes: list[dict[str, Any]] = []
    boots = 0
    for bdm in bdms:
        source, dest, index = _checked(bdm)
        ident = str(bdm.get("uuid") or "")
        if index == 0:
            boots += 1
        if (source, dest) == ("image", "local"):
            continue  # the server's image (imageRef), as the CLI sends it
        if source in ("snapshot", "blank"):
            raise bad_request(f"block_device_mapping_v2 with source_type {source} is not supported by kubenova.")
        if dest == "local":
            raise bad_request(INVALID + "a volume can only be mapped to destination_type volume.")
        if source == "volume" and index == 0:
            if bdm.get("delete_on_termination") in (True, "true", "True"):
                raise bad_request("kubenova keeps a boot volume's claim when the server is deleted: "
                                  "delete_on_termination must be false")  # fmt: skip
            out["bootVolume"] = {"claimName": ident}
        elif source == "volume":
            volumes.append(
                {"claimName": ident, "deleteOnTermination": bdm.get("delete_on_termination") in (True, "true", "True")}
            )
        elif index == 0:  # image to a new boot volume
            size = bdm.get("volume_size")
            if size is not None and flavor_disk and int(size) > flavor_disk:
                raise bad_request(f"kubenova sizes the root disk by the flavor's disk ({flavor_disk} GiB): "
                                  f"volume_size {size} is larger")  # fmt: skip
            if bdm.get("delete_on_termination") in (False, "false", "False"):
                raise bad_request("kubenova deletes an image-booted server's root disk with it: "
                                  "delete_on_termination must be true")  # fmt: skip
            out["imageId"] = ident
        else:
            raise bad_request(
                "kubenova attaches existing volumes only: an image to a non-boot volume is not supported."
            )
    if boots > 1:
        raise bad_request(
            INVALID + "Boot sequence for the instance and image/block device mapping combination is not valid."
        )
    if "bootVolume" in out and "imageId" in out:
        raise bad_request(
            INVALID + "Boot sequence for the instance and image/block device mapping combination is not valid."
        )
    if not image_ref and "bootVolume" not in out and "imageId" not in out:
        raise bad_request("Missing imageRef attribute")
    if volumes:
        out["volumes"] = volumes
    return out
