"""Image status, thin over :func:`kubenova.images.desired_status` (a snapshot's follows its CDI
clone: queued, saving, active or killed); the index of Images the
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
    await _refresh(memo, name, dict(meta), dict(spec), dict(status))


@kopf.on.event("cdi.kubevirt.io", "v1beta1", "datavolumes", labels={images.IMAGE_LABEL: kopf.PRESENT}, id="image-data")
async def image_data_event(*, body: kopf.Body, labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> None:
    """A DataVolume made from an Image moving on or failing: a snapshot's clone (the Image
    follows it), or a root disk whose import of the Image's source failed (the Image is killed)."""
    clone = bool(((body.get("spec") or {}).get("source") or {}).get("pvc"))
    failed = (body.get("status") or {}).get("phase") == "Failed"
    if not clone and not failed:
        return  # a root disk importing, or imported: nothing the Image shows
    image = await kube.get_dict(state.of(memo).client, resources.Image, labels[images.IMAGE_LABEL])
    if image is None or image["metadata"].get("deletionTimestamp"):
        return
    failure = images.clone_glance(dict(body))[1] if failed and not clone else None
    meta, spec, status = image["metadata"], image.get("spec") or {}, image.get("status") or {}
    await _refresh(memo, meta["name"], meta, spec, status, import_failure=failure)


async def _refresh(
    memo: kopf.Memo,
    name: str,
    meta: dict[str, Any],
    spec: dict[str, Any],
    status: dict[str, Any],
    *,
    import_failure: str | None = None,
) -> None:
    """Write the Image's status if it differs. A snapshot's follows its clone, read afresh (both
    handlers read it, so neither writes what an older event said)."""
    client = state.of(memo).client
    snapshot = images.is_snapshot(meta.get("labels"))
    clone = None
    if snapshot and (pvc := (spec.get("source") or {}).get("pvc")):
        clone = await kube.get_dict(client, resources.DataVolume, pvc["name"], namespace=pvc["namespace"])
    desired = images.desired_status(
        spec,
        status,
        uid=str(meta.get("uid", "")),
        generation=meta.get("generation"),
        now=common.now(),
        snapshot=snapshot,
        clone=clone,
        import_failure=import_failure,
    )
    if conditions.differs(status, desired):
        await kube.patch_status_if_exists(client, resources.Image, name, desired)  # deleted meanwhile: none
