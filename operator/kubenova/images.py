"""Images, pure: an Image's Glance status, who may boot it, and Nova's checks of a server that
boots one (with Nova's messages and codes). Called by the Image status handler, the admission
webhook and the Server planner's :func:`kubenova.servers.build.accept`.

A Server's ``spec.image`` names an Image when an Image of that name exists; otherwise it is a
plain container (or containerDisk) reference, as before Images existed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kubenova import conditions

SOURCES = ("containerDisk", "http", "registry", "pvc")
GiB = 1024**3


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a server cannot boot an image, as Nova's API says it."""

    message: str
    code: int = 400


def source_type(spec: Mapping[str, Any]) -> str | None:
    """Which source the image names (the CRD allows exactly one)."""
    source = spec.get("source") or {}
    return next((s for s in SOURCES if source.get(s)), None)


def glance_status(spec: Mapping[str, Any], status: Mapping[str, Any] | None = None, *, snapshot: bool = False) -> str:
    """Glance's status. An Image names its bits rather than holding them, so it is active as soon
    as it exists, unless deactivated; a status the operator set for a longer story (a snapshot's
    upload: queued, saving, killed) stands. A ``snapshot`` with nothing recorded is queued."""
    if spec.get("deactivated"):
        return "deactivated"
    recorded = (status or {}).get("status")
    if recorded in ("queued", "saving", "killed"):
        return str(recorded)
    if snapshot and not recorded:
        return "queued"
    return "active"


SNAPSHOT_LABEL = "compute.kubenova.io/snapshot-of"
"""On an Image made by createImage: the uid of the server it is a snapshot of."""
IMAGE_LABEL = "compute.kubenova.io/image"
"""On a DataVolume made from an Image (a root disk, a snapshot's clone): the Image's name
(kept equal to :data:`kubenova.backends.kubevirt.IMAGE_LABEL`)."""


def is_snapshot(labels: Mapping[str, Any] | None) -> bool:
    return bool((labels or {}).get(SNAPSHOT_LABEL))


def clone_glance(clone: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """A snapshot Image's Glance status from its clone's (CDI DataVolume) phase, and why it was
    killed: queued until CDI starts copying, saving while it copies, active once done, killed if
    it failed (or the clone is gone before it finished)."""
    if clone is None:
        return "queued", None
    status = clone.get("status") or {}
    phase = status.get("phase") or "Pending"
    if phase == "Succeeded":
        return "active", None
    if phase == "Failed":
        reasons = [
            c.get("message") or c.get("reason") for c in status.get("conditions") or [] if c.get("status") != "True"
        ]
        return "killed", next((r for r in reasons if r), "the copy failed")
    if phase in ("Pending", "CloneScheduled", "PendingPopulation", "WaitForFirstConsumer"):
        return "queued", None
    return "saving", None


def checksum(spec: Mapping[str, Any]) -> str | None:
    """The digest of a containerDisk or registry image pinned by digest, else unknown."""
    source = spec.get("source") or {}
    ref = source.get("containerDisk") or source.get("registry") or ""
    _, at, digest = ref.partition("@")
    return digest if at and digest else None


def desired_status(
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    uid: str,
    generation: int | None,
    now: str,
    snapshot: bool = False,
    clone: Mapping[str, Any] | None = None,
    import_failure: str | None = None,
) -> dict[str, Any]:
    """The Image's status: Glance's status, its id, checksum and the Ready condition. A
    ``snapshot``'s status follows its ``clone`` (the DataVolume, when read): see :func:`clone_glance`.
    ``import_failure``: why CDI could not import the image's source into a root disk; the image
    is then killed (Glance's "not readable"), as it would be for every other server: its source
    is immutable, so the fix is a new Image."""
    glance, killed = glance_status(spec, status, snapshot=snapshot), None
    if snapshot and clone is not None and glance != "deactivated":
        glance, killed = clone_glance(clone)
    elif import_failure and glance == "active" and not snapshot:
        glance, killed = "killed", f"importing its source failed: {import_failure}"
    ok = glance == "active"
    messages = {
        "active": "The image is active: servers may boot it.",
        "deactivated": "The image is deactivated: no new server may boot it (set spec.deactivated: false).",
        "queued": "The snapshot is queued: CDI has not started copying the server's root disk.",
        "saving": "The snapshot is saving: CDI is copying the server's root disk.",
        "killed": "The image is killed: its data could not be written.",
    }
    message = messages.get(glance, f"The image is {glance}.")
    if killed:
        message = (
            f"The image is killed: {killed}"
            if import_failure
            else f"The image is killed: its DataVolume failed: {killed}"
        )
    elif glance == "killed" and (
        said := (conditions.get(status.get("conditions") or [], "Ready") or {}).get("message")
    ):
        message = str(said)  # the reason it was killed, said when it was
    desired: dict[str, Any] = {
        "id": uid,
        "status": glance,
        "sourceType": source_type(spec),
        "observedGeneration": generation,
        "conditions": conditions.ready(
            status, ok=ok, reason=glance.capitalize(), message=message, generation=generation, now=now
        ),
    }
    if snapshot and clone is not None:
        desired["dataVolumePhase"] = (clone.get("status") or {}).get("phase") or "Pending"
    if (digest := checksum(spec)) is not None:
        desired["checksum"] = digest
    if status.get("status") != glance or "updatedAt" not in status:
        desired["updatedAt"] = now
    return desired


def may_use(spec: Mapping[str, Any], namespace: str) -> bool:
    """Glance's visibility: public and community images are everyone's; private ones the
    owner's; shared ones the owner's and its members'."""
    visibility = spec.get("visibility", "shared")
    if visibility in ("public", "community"):
        return True
    if namespace == spec.get("owner"):
        return True
    return visibility == "shared" and namespace in (spec.get("members") or [])


def boot_problem(
    name: str,
    image: Mapping[str, Any],
    namespace: str,
    flavor: Mapping[str, Any] | None,
    *,
    check_status: bool = True,
) -> Problem | None:
    """Nova's checks of a server booting the Image ``name`` (its ``spec`` and ``status``) with
    ``flavor``, in Nova's order (``_check_requested_image``): visible, active, memory, disk.
    ``check_status`` False skips the active check (the webhook, on an Image just created)."""
    spec = image.get("spec") or {}
    if not may_use(spec, namespace):
        visibility = spec.get("visibility", "shared")
        return Problem(
            f"Can not find requested image: image {name} is {visibility} and namespace {namespace} may not use it."
        )
    if check_status and (glance := glance_status(spec, image.get("status"))) != "active":
        return Problem(f"Image {name} is not active (its status is {glance}).")
    if flavor is None:
        return None
    min_ram, ram = int(spec.get("minRam") or 0), int(flavor.get("ram") or 0)
    if min_ram > ram:
        return Problem(
            f"Flavor's memory is too small for requested image. Flavor memory is {ram} MiB, minimum is {min_ram} MiB."
        )
    # Nova: a flavor disk of 0 means "do not check" (the root disk takes the image's size).
    disk, min_disk = int(flavor.get("disk") or 0), int(spec.get("minDisk") or 0)
    if disk and min_disk > disk:
        return Problem(
            f"Flavor's disk is too small for requested image. Flavor disk is {disk * GiB} bytes, "
            f"minimum size is {min_disk * GiB} bytes."
        )
    return None


def resize_problem(recorded: Mapping[str, Any] | None, name: str, flavor: Mapping[str, Any]) -> Problem | None:
    """A resize: Nova checks the new flavor against the minDisk and minRam of the image the
    server booted (``recorded``, its :func:`boot_source`), not against the Image as it is now."""
    if not recorded:
        return None
    image = {"spec": {"visibility": "public", "minDisk": recorded.get("minDisk"), "minRam": recorded.get("minRam")}}
    return boot_problem(name, image, "", flavor, check_status=False)


STORAGE_CLASS_EXTRA_SPEC = "kubenova:storage_class"
"""The flavor extra spec that names its servers' root disk storage class."""


def storage_class(flavor: Mapping[str, Any] | None, default: str) -> str | None:
    """A root disk's storage class: the flavor's extra spec, else the operator's setting."""
    chosen = ((flavor or {}).get("extraSpecs") or {}).get(STORAGE_CLASS_EXTRA_SPEC) or default
    return str(chosen) if chosen else None


def root_disk_name(server: str, request_id: str | None = None) -> str:
    """The name of a server's root disk (a DataVolume and its PVC): ``<server>-root``, and for
    each rebuild a new one (``<server>-root-<the rebuild's request id>``), so the old disk can go
    while the new one is imported."""
    base = f"{server[:230]}-root"
    if not request_id:
        return base
    return f"{base}-{request_id.removeprefix('req-')[:8].lower()}"


def boot_source(
    image: Mapping[str, Any], storage: str | None = None, *, root_disk: str | None = None
) -> dict[str, Any]:
    """What a server records of the Image it boots (as Nova keeps the image's metadata in the
    instance's system metadata): its source, minimum disk and properties."""
    spec = image.get("spec") or {}
    out: dict[str, Any] = {
        "source": dict(spec.get("source") or {}),
        "minDisk": int(spec.get("minDisk") or 0),
        "minRam": int(spec.get("minRam") or 0),
    }
    if spec.get("properties"):
        out["properties"] = dict(spec["properties"])
    if storage:
        out["storageClass"] = storage
    if root_disk:
        out["rootDisk"] = root_disk
    return out


def container_image(image: Mapping[str, Any]) -> str | None:
    """The reference a KubeVirt containerDisk boots, for an Image with a containerDisk source."""
    ref = ((image.get("spec") or {}).get("source") or {}).get("containerDisk")
    return str(ref) if ref else None


LOCAL_PROVISIONERS = frozenset(
    {"kubernetes.io/no-provisioner", "rancher.io/local-path", "topolvm.io", "openebs.io/local", "local.csi.openebs.io"}
)
"""Provisioners whose volumes live on one node's disks."""


def disk_stays(image_source: Mapping[str, Any] | None, storage_class: Mapping[str, Any] | None) -> str | None:
    """Why a server's root disk cannot follow it to another host (None: it can, or it has no
    root disk, or its storage class is unknown). ``storage_class``: the class's name,
    ``volumeBindingMode`` and ``provisioner``."""
    disk = (image_source or {}).get("rootDisk")
    if not disk or storage_class is None:
        return None
    name = storage_class.get("name", "")
    provisioner = storage_class.get("provisioner", "")
    if provisioner in LOCAL_PROVISIONERS:
        why = f"whose provisioner {provisioner} makes node-local volumes"
    elif storage_class.get("volumeBindingMode") == "WaitForFirstConsumer":
        why = "which binds each volume to where it was first used (volumeBindingMode WaitForFirstConsumer)"
    else:
        return None
    return f"The root disk {disk} is on storage class {name}, {why}: it cannot follow the server to another host."
