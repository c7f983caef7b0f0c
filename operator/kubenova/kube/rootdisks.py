"""Growing a kubevirt root disk after a resize to a larger flavor disk: its claim's request
(see :mod:`kubenova.backends.disks`), then the size recorded on the DataVolume."""

from __future__ import annotations

from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import PersistentVolumeClaim
from lightkube.types import PatchType

from kubenova.backends import disks
from kubenova.backends.workload import PlacedServer
from kubenova.kube import client as kube
from kubenova.kube import resources


async def grow(client: AsyncClient, server: PlacedServer, disk: dict[str, Any]) -> dict[str, Any]:
    """Grow the root disk ``disk`` (its DataVolume) to the server's flavor, if it is smaller."""
    size = disks.grown_gib(server, disk)
    if size is None:
        return disk
    name, namespace = disk["metadata"]["name"], server.namespace
    request = {"spec": {"resources": {"requests": {"storage": f"{size}Gi"}}}}
    try:
        await client.patch(PersistentVolumeClaim, name, request, namespace=namespace, patch_type=PatchType.MERGE)
    except ApiError as exc:
        # No claim: a real CDI makes it with the DataVolume; the dev cluster's simulated CDI
        # makes none. The size asked for is recorded all the same.
        if not kube.is_not_found(exc):
            raise
    note = {"metadata": {"annotations": {disks.SIZE_ANNOTATION: f"{size}Gi"}}}
    patched: Any = await client.patch(resources.DataVolume, name, note, namespace=namespace, patch_type=PatchType.MERGE)
    result: dict[str, Any] = patched.to_dict()
    return result
