"""createImage on the cluster: the new Image and its clone of the root disk (a CDI DataVolume),
each made once if absent (a retry or a restart finds them), then the planner's next step
(:func:`kubenova.servers.snapshots.step`). Called by the Server executor while a createImage is
in flight, under the server's lock."""

from __future__ import annotations

from typing import Any

from lightkube import AsyncClient, codecs

from kubenova import images
from kubenova.kube import client as kube
from kubenova.kube import resources
from kubenova.kube import servers as kube_servers
from kubenova.servers import history, snapshots
from kubenova.servers.outcome import Outcome
from kubenova.servers.view import Server


async def take(client: AsyncClient, server: Server, base: dict[str, Any] | None, now: str) -> Outcome:
    """Make the Image and its clone if absent; the next step of the task. ``base``: the Image
    the server booted (for base_image_ref), if known."""
    snap = server.status.get("snapshot") or {}
    image = await kube.get_dict(client, resources.Image, snap["imageName"])
    if image is None:
        made = await kube.create_or_adopt(client, codecs.from_dict(snapshots.image_body(server, base)))
        image = made.to_dict()
    clone = None
    if ((image.get("metadata") or {}).get("labels") or {}).get(images.SNAPSHOT_LABEL) == server.uid:
        name, namespace = snap["dataVolume"], server.namespace
        clone = await kube.get_dict(client, resources.DataVolume, name, namespace=namespace)
        if clone is None:
            made = await kube.create_or_adopt(client, codecs.from_dict(snapshots.clone_body(server, image)))
            clone = made.to_dict()
    outcome = snapshots.step(server, image, clone, now)
    record = history.open_record(server.status)
    if outcome.patch and not snap.get("imageId") and record and record.get("serverAction"):
        # The Compute API answers createImage with the new Image's id (microversion 2.45).
        image_id = (outcome.patch.get("snapshot") or {}).get("imageId")
        if image_id:
            patch = {"imageId": image_id}
            await kube_servers.settle_action(client, server.namespace, record["serverAction"], patch)
    return outcome
