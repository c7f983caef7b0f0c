"""Image status, thin over :func:`kubenova.images.desired_status`; the index of Images the
webhook and the Server planner read; and Glance's ``protected`` (a protected Image cannot be
deleted: refused by the webhook, registered with the others in :mod:`.admission`).
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova import conditions, images, metrics
from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import common, state
from kubenova.kube import client as kube
from kubenova.kube import resources


@kopf.index(GROUP, VERSION, "images")
async def image_bodies(*, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any) -> dict[str, dict[str, Any]]:
    return {name: {"spec": dict(spec), "status": dict(status)}}


DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


@kopf.index("storage.k8s.io", "v1", "storageclasses")
async def storage_classes(*, name: str, body: kopf.Body, meta: kopf.Meta, **_: Any) -> dict[str, dict[str, Any]]:
    """Each StorageClass by name, and the default one under "" (root disks' moves read them)."""
    summary = {"name": name, "volumeBindingMode": body.get("volumeBindingMode"), "provisioner": body.get("provisioner")}
    out = {name: summary}
    if (meta.get("annotations") or {}).get(DEFAULT_CLASS) == "true":
        out[""] = summary
    return out


@kopf.on.event(GROUP, VERSION, "images", id="image-event")
@metrics.timed("Image")
async def image_event(
    *, event: kopf.RawEvent, name: str, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, memo: kopf.Memo, **_: Any
) -> None:
    if event["type"] == "DELETED" or meta.get("deletionTimestamp"):
        return
    desired = images.desired_status(
        spec, status, uid=str(meta.get("uid", "")), generation=meta.get("generation"), now=common.now()
    )
    if conditions.differs(dict(status), desired):
        await kube.patch_status(state.of(memo).client, resources.Image, name, desired)
