"""A kubevirt root disk after a resize, pure: the size its claim must grow to (never shrink).

The root disk's DataVolume is made once; CDI does not let a DataVolume's spec change, so a
larger flavor disk grows the disk's PersistentVolumeClaim (``spec.resources.requests``: volume
expansion, which the storage class must allow) and KubeVirt grows the guest's disk image at the
next boot (its ``ExpandDisks`` feature gate). The size asked for last is kept in an annotation
on the DataVolume, which is metadata and may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova import quantities
from kubenova.backends import kubevirt
from kubenova.backends.workload import PlacedServer

SIZE_ANNOTATION = "compute.kubenova.io/root-disk-size"
"""On a root disk's DataVolume: the size (``<n>Gi``) its claim was last asked to have."""


def recorded_gib(disk: Mapping[str, Any]) -> int:
    """The size the root disk has been asked for: the annotation, else the DataVolume's request."""
    annotated = ((disk.get("metadata") or {}).get("annotations") or {}).get(SIZE_ANNOTATION)
    request = (((disk.get("spec") or {}).get("storage") or {}).get("resources") or {}).get("requests") or {}
    try:
        return quantities.to_int(str(annotated or request.get("storage") or "0"), quantities.GIB)
    except ValueError:
        return 0


def grown_gib(s: PlacedServer, disk: Mapping[str, Any]) -> int | None:
    """The size (GiB) the root disk must grow to for the server's flavor, or None (it is as large
    already: a smaller flavor never shrinks it)."""
    wanted = kubevirt.root_disk_size(s)
    return wanted if wanted > recorded_gib(disk) else None
