"""createImage, Nova's snapshot, pure: a new Image from a kubevirt server's root disk.

The snapshot is a CDI clone: a DataVolume whose source is the root disk's PVC, in the server's
namespace, owned by the new Image (a cluster-scoped owner of a namespaced object, which the
garbage collector allows). So the Image outlives the server, as Nova's snapshots do, and goes
with the Image. The server's namespace rather than one the operator keeps: CDI clones within a
namespace without the cross-namespace clone authorisation (``datavolumes/source``) a user would
otherwise need, the Image is private to that namespace anyway (Nova makes a snapshot the
project's), and the namespace's ResourceQuota counts the copy like the disk it copies. The new
Image's source is that clone's PVC, so a server booted from it gets a root disk cloned from it.

The server goes through Nova's task states as Nova's API, compute manager and libvirt driver set
them: ``image_snapshot_pending`` (accepted), ``image_snapshot`` (the Image and the clone made),
``image_pending_upload`` (the clone waits for CDI), ``image_uploading`` (CDI copies), then none;
the Image reads queued, saving, active (or killed). The vm_state is left as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova import images
from kubenova.api.common import API_VERSION
from kubenova.backends import kubevirt
from kubenova.backends.workload import MANAGED_BY, SERVER_LABEL
from kubenova.nova import actions, faults
from kubenova.nova.actions import Action, ActionRefused
from kubenova.nova.states import TaskState
from kubenova.servers import history, status
from kubenova.servers.bodies import Patch
from kubenova.servers.outcome import Event, Outcome, Settle
from kubenova.servers.view import Facts, Server

NAME = actions.EVENTS[Action.CREATE_IMAGE]
T = TaskState


def clone_name(image: str) -> str:
    """The clone's DataVolume (and PVC): never a root disk's name, which ends in -root[-id]."""
    return f"{image[:243]}.snapshot"


def root_claim(server: Server) -> str | None:
    """The claim holding the server's root disk: its DataVolume's, or its boot volume."""
    disk = (server.status.get("imageSource") or {}).get("rootDisk")
    if disk:
        return str(disk)
    boot = (server.spec.get("bootVolume") or {}).get("claimName")
    return str(boot) if boot else None


def begin(
    server: Server,
    facts: Facts,
    spec: Mapping[str, Any],
    now: str,
    *,
    server_action: str | None,
    request_id: str | None,
) -> Outcome:
    """Accept a createImage (``spec``: the ServerAction's imageName and imageMetadata) with one
    status write, or raise Nova's error. The state checks are :func:`kubenova.nova.actions.check`'s."""
    st, gen = server.status, server.generation
    image = str(spec.get("imageName") or "")
    if not image:
        raise ActionRefused("Invalid input for field/attribute name: createImage needs imageName.", 400)
    claim = root_claim(server)
    if claim is None:
        raise ActionRefused(
            f"Instance {server.uid} has no persistent root disk to snapshot: it boots a plain containerDisk "
            "reference; boot it from an Image (a root disk CDI imports) to snapshot it.",
            409,
        )
    if facts.image(image) is not None:
        raise ActionRefused(f"Image {image} already exists: createImage needs a new name.", 409)
    records = history.start_action(st, NAME, now=now, server_action=server_action, request_id=request_id)
    patch: Patch = status.state_patch(
        st, vm_state=st["vmState"], task_state=T.IMAGE_SNAPSHOT_PENDING, generation=gen, now=now
    )
    patch["actions"] = records
    patch["snapshot"] = {
        "imageName": image,
        "metadata": {str(k): str(v) for k, v in (spec.get("imageMetadata") or {}).items()},
        "sourceClaim": claim,
        "dataVolume": clone_name(image),
    }
    patch["conditions"] = status.synced(
        patch, True, "Converging", f"{NAME} {image} in progress.", generation=gen, now=now
    )
    return Outcome(patch, log=f"{NAME} {image} started ({records[-1]['requestId']})")


def taking(st: Mapping[str, Any]) -> bool:
    """Whether a createImage is in flight (then :func:`step` drives the task, not the workload)."""
    return bool(st.get("snapshot")) and st.get("taskState") in actions.RULES[Action.CREATE_IMAGE].steps


def image_body(server: Server, base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The new Image: private to the server's namespace, its source the clone's PVC, with the
    properties Nova gives a snapshot (the booted image's, then image_type, instance_uuid,
    base_image_ref, then createImage's metadata). ``base``: the Image the server booted, if any."""
    st = server.status
    snap = st["snapshot"] or {}
    booted = st.get("imageSource") or {}
    props: dict[str, str] = dict(booted.get("properties") or {})
    props |= {"image_type": "snapshot", "instance_uuid": server.uid}
    if base is not None and (base.get("status") or {}).get("id"):
        props["base_image_ref"] = str(base["status"]["id"])
    props |= snap.get("metadata") or {}
    return {
        "apiVersion": API_VERSION,
        "kind": "Image",
        "metadata": {
            "name": snap["imageName"],
            "labels": {images.SNAPSHOT_LABEL: server.uid, **MANAGED_BY},
        },
        "spec": {
            "source": {"pvc": {"namespace": server.namespace, "name": snap["dataVolume"]}},
            "visibility": "private",
            "owner": server.namespace,
            "diskFormat": "raw",
            "containerFormat": "bare",
            "minDisk": int(booted.get("minDisk") or 0),
            "minRam": int(booted.get("minRam") or 0),
            "properties": props,
        },
    }


def clone_body(server: Server, image: Mapping[str, Any]) -> dict[str, Any]:
    """The clone of the root disk: a DataVolume with a ``pvc`` source, the same size and storage
    class as the root disk, owned by the Image (``image``: the Image as made)."""
    st = server.status
    snap = st["snapshot"] or {}
    booted = st.get("imageSource") or {}
    flavor: Mapping[str, Any] = st.get("flavor") or {}
    size = max(int(flavor.get("disk") or 0), int(booted.get("minDisk") or 0))
    storage: dict[str, Any] = {"resources": {"requests": {"storage": f"{size or kubevirt.DEFAULT_ROOT_DISK_GIB}Gi"}}}
    if booted.get("storageClass"):
        storage["storageClassName"] = booted["storageClass"]
    meta = image["metadata"]
    return {
        "apiVersion": kubevirt.CDI_API_VERSION,
        "kind": "DataVolume",
        "metadata": {
            "name": snap["dataVolume"],
            "namespace": server.namespace,
            # The server label brings the clone's progress to the server's reconcile.
            "labels": {images.IMAGE_LABEL: meta["name"], SERVER_LABEL: server.name, **MANAGED_BY},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "Image",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"source": {"pvc": {"namespace": server.namespace, "name": snap["sourceClaim"]}}, "storage": storage},
    }


_TASKS = {"made": T.IMAGE_SNAPSHOT, "queued": T.IMAGE_PENDING_UPLOAD, "saving": T.IMAGE_UPLOADING}


def step(server: Server, image: Mapping[str, Any] | None, clone: Mapping[str, Any] | None, now: str) -> Outcome:
    """The next task state once the Image and its clone are made (``image``, ``clone`` as read):
    image_snapshot with the Image's id first, then pending upload while CDI waits, uploading while
    it copies; the end once the clone is done (Succeeded) or failed (the task cleared, the fault
    recorded, as Nova's snapshot failure)."""
    st, gen = server.status, server.generation
    snap = dict(st.get("snapshot") or {})
    if image is None:
        return Outcome()
    glance: str
    killed: str | None
    if ((image.get("metadata") or {}).get("labels") or {}).get(images.SNAPSHOT_LABEL) != server.uid:
        glance, killed = "killed", f"Image {snap['imageName']} already exists and is not this server's snapshot"
    elif clone is None:
        return Outcome()
    elif st.get("taskState") == T.IMAGE_SNAPSHOT_PENDING:
        glance, killed = "made", None  # the Image and its clone exist now: the snapshot is taken
    else:
        glance, killed = images.clone_glance(clone)
    if glance in _TASKS:
        task = _TASKS[glance]
        if st.get("taskState") == task:
            return Outcome()
        patch = status.state_patch(st, vm_state=st["vmState"], task_state=task, generation=gen, now=now)
        patch["snapshot"] = snap | {"imageId": image["metadata"]["uid"]}
        return Outcome(patch)
    error = None if glance == "active" else f"Snapshot {snap['imageName']} failed: {killed}"
    patch = status.state_patch(st, vm_state=st["vmState"], task_state=None, generation=gen, now=now)
    patch["actions"] = history.finish_action(st, now=now, error=error)
    patch["snapshot"] = None
    if error:
        patch["fault"] = faults.workload_failed(error, now=now).to_status()
        patch["conditions"] = status.synced(patch, False, "ActionFailed", error, generation=gen, now=now)
        event = Event("Warning", "ActionFailed", NAME, error)
    else:
        patch["conditions"] = status.synced(patch, True, "Synced", "As declared.", generation=gen, now=now)
        event = Event("Normal", "ImageCreated", NAME, f"Image {snap['imageName']} is active.")
    record = history.open_record(st)
    settle = (
        Settle(record["serverAction"], record.get("requestId"), error)
        if record and record.get("serverAction")
        else None
    )
    return Outcome(patch, events=(event,), settle=settle, log=f"{NAME} {snap['imageName']}: {glance}")
