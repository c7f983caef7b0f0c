"""Image: Glance's image, cluster-scoped like Glance's catalog, naming where its bits come from.

Glance's model where it maps: ``visibility`` (public, private, shared, community), the owning
namespace (Glance's ``owner``, a project) and, for a shared image, its member namespaces (Glance's
image members, as a Flavor's access list); the formats, ``minDisk``/``minRam``, ``protected`` and
free-form ``properties`` (``hw_*``, ``os_*``...). Instead of uploaded data, an Image names its
``source``: a KubeVirt containerDisk, an HTTP(S) URL or a registry image for CDI to import, or an
existing PVC to clone. A Server names an Image in ``spec.image``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import (
    AGE,
    DATE_TIME,
    ApiModel,
    Column,
    Kind,
    NamespaceName,
    ObjectName,
    StatusBase,
    rule,
    rules,
)

Visibility = Literal["public", "private", "shared", "community"]
DiskFormat = Literal["raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "iso", "ploop", "ami", "ari", "aki"]
ContainerFormat = Literal["bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed"]
GlanceStatus = Literal["queued", "saving", "active", "killed", "deleted", "deactivated"]
CPU_TOPOLOGY = [f"hw_cpu_{m}{f}" for m in ("", "max_") for f in ("sockets", "cores", "threads")]
"""The image properties of a guest's CPU topology (preferences, and limits)."""
# An OCI reference: no scheme, no spaces (registry/repo[:tag][@digest]).
IMAGE_REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$"


class PvcSource(ApiModel):
    """An existing PersistentVolumeClaim whose content is the image (CDI clones it)."""

    namespace: NamespaceName
    """The claim's namespace."""
    name: ObjectName
    """The claim's name."""


class ImageSource(ApiModel):
    """Where the image's bits are: exactly one of its fields."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule(
                "[has(self.containerDisk), has(self.http), has(self.registry), has(self.pvc)].filter(x, x).size() == 1",
                "give exactly one source: containerDisk, http, registry or pvc",
            ),
        )
    }

    container_disk: str | None = Field(default=None, min_length=1, max_length=1024, pattern=IMAGE_REFERENCE)
    """A KubeVirt containerDisk image (``quay.io/containerdisks/fedora:41``)."""
    http: str | None = Field(default=None, min_length=8, max_length=2048, pattern=r"^https?://[^\s/]+(/\S*)?$")
    """An HTTP(S) URL CDI imports from (a qcow2, raw or iso file, possibly compressed)."""
    registry: str | None = Field(default=None, min_length=1, max_length=1024, pattern=r"^(docker|oci-archive)://\S+$")
    """A registry image CDI imports (``docker://quay.io/containerdisks/ubuntu:24.04``)."""
    pvc: PvcSource | None = None
    """An existing claim CDI clones."""


class ImageSpec(ApiModel):
    """What the image is, who may use it and what a server needs to boot it."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule(
                "self.visibility in ['public', 'community'] || has(self.owner)",
                "a private or shared image needs an owner namespace",
                field_path=".owner",
            ),
            rule(
                "self.visibility == 'shared' || !has(self.members) || size(self.members) == 0",
                "members only apply to shared images: set visibility: shared or remove members",
                field_path=".members",
            ),
            rule(
                "self.source == oldSelf.source",
                "an Image's source is immutable, as Glance's data is: create another Image",
                field_path=".source",
                reason="FieldValueForbidden",
            ),
            rule(
                "(!has(self.diskFormat) && !has(oldSelf.diskFormat)) || "
                "(has(self.diskFormat) && has(oldSelf.diskFormat) && self.diskFormat == oldSelf.diskFormat)",
                "an Image's diskFormat is immutable once set",
                field_path=".diskFormat",
                reason="FieldValueForbidden",
            ),
            rule(
                "!has(self.source.containerDisk) || !has(self.diskFormat) || self.diskFormat in ['raw', 'qcow2']",
                "a containerDisk holds a raw or qcow2 disk",
                field_path=".diskFormat",
            ),
        )
    }

    source: ImageSource
    """Where the image's bits are."""
    visibility: Visibility = "shared"
    """Who may boot it (Glance's visibility; Glance's default, shared): public and community
    images every namespace, private ones the owner only, shared ones the owner and members."""
    owner: NamespaceName | None = None
    """The owning namespace (Glance's owner, a project). Required for private and shared images."""
    members: list[NamespaceName] = Field(
        default_factory=list, max_length=128, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Namespaces a shared image is shared with (Glance's image members, all accepted)."""
    disk_format: DiskFormat | None = None
    """Glance's disk_format: raw, qcow2, vmdk, vdi, vhd, vhdx, iso, ploop, ami, ari, aki."""
    container_format: ContainerFormat = "bare"
    """Glance's container_format: bare (the usual), ovf, ova, aki, ari, ami, docker, compressed."""
    min_disk: int = Field(default=0, ge=0, le=1024 * 1024)
    """The smallest root disk, in GiB, a server needs to boot it (Glance's min_disk)."""
    min_ram: int = Field(default=0, ge=0, le=64 * 1024 * 1024)
    """The least memory, in MiB, a server needs to boot it (Glance's min_ram)."""
    protected: bool = False
    """A protected image cannot be deleted (Glance's protected): unset it first."""
    deactivated: bool = False
    """Glance's deactivate: no new server may boot it (status deactivated); false reactivates."""
    properties: dict[str, str] = Field(
        default_factory=dict,
        max_length=128,
        json_schema_extra=rules(
            rule(
                "self.all(k, size(k) <= 255 && size(self[k]) <= 255)",
                "image property keys and values are at most 255 characters",
            ),
            rule(
                "!('hw_firmware_type' in self) || self['hw_firmware_type'] in ['bios', 'uefi']",
                "hw_firmware_type must be bios or uefi",
            ),
            rule(
                # One key at a time, not self.all(...): a regex over every value costs more than
                # the API server's CEL budget.
                " && ".join(f"(!('{k}' in self) || self['{k}'].matches('^[1-9][0-9]{{0,4}}$'))" for k in CPU_TOPOLOGY),
                "hw_cpu_sockets, hw_cpu_cores, hw_cpu_threads and their hw_cpu_max_ limits are whole numbers from 1",
            ),
            rule(
                "!('hw_qemu_guest_agent' in self) || self['hw_qemu_guest_agent'] in ['yes', 'no', 'true', 'false']",
                "hw_qemu_guest_agent must be yes or no",
            ),
        ),
    )
    """Glance's free-form properties: hw_architecture, hw_firmware_type, hw_machine_type,
    hw_disk_bus, hw_vif_model, hw_cpu_sockets/cores/threads (the guest's CPU topology) and
    hw_cpu_max_sockets/cores/threads (its limits), hw_qemu_guest_agent (advisory: KubeVirt always
    gives the agent a channel), os_distro, os_type..."""


class BootedImage(ApiModel):
    """What a server keeps of the Image it booted, as Nova keeps an image's metadata in the
    instance's system metadata: a later change to the Image (or its deletion) leaves it be."""

    source: ImageSource
    """The Image's source when the server was built or rebuilt."""
    min_disk: int = Field(default=0, ge=0)
    """The Image's minDisk (GiB): a resize to a smaller flavor disk is refused."""
    min_ram: int = Field(default=0, ge=0)
    """The Image's minRam (MiB): a resize to a smaller flavor is refused."""
    properties: dict[str, str] = Field(default_factory=dict, max_length=128)
    """The Image's properties (hw_*, os_*), which shape the VirtualMachine."""
    root_disk: str | None = Field(default=None, max_length=253)
    """The root disk's DataVolume (kubevirt): made at build, made anew at each rebuild."""
    previous_root_disk: str | None = Field(default=None, max_length=253)
    """The root disk a rebuild replaced, deleted once the new one is made."""
    storage_class: str | None = Field(default=None, max_length=253)
    """The root disk's storage class (the flavor's kubenova:storage_class, else the operator's
    setting; none: the cluster's default class)."""


class Snapshot(ApiModel):
    """A createImage in flight on a server (Nova's snapshot): the Image it makes and the CDI
    clone of the root disk that holds the Image's bits."""

    image_name: ObjectName
    """The new Image."""
    metadata: dict[str, str] = Field(default_factory=dict, max_length=128)
    """Properties asked for (createImage's metadata)."""
    source_claim: ObjectName
    """The root disk's claim (the DataVolume's PVC) that is cloned."""
    data_volume: ObjectName
    """The clone: a DataVolume in the server's namespace, owned by the Image."""
    image_id: str | None = Field(default=None, max_length=64)
    """The Image's id once the operator has made it."""


class ImageStatus(StatusBase):
    """What the operator observed of the image."""

    CONDITIONS = "Ready once the image is active: servers may boot it."

    id: str | None = Field(default=None, max_length=64)
    """Glance's image id: the object's uid."""
    status: GlanceStatus | None = None
    """Glance's status: queued, saving, active, killed, deleted or deactivated."""
    size: int | None = Field(default=None, ge=0)
    """The image's size in bytes, where known."""
    checksum: str | None = Field(default=None, max_length=128)
    """The image data's checksum, where known (the containerDisk's digest, say)."""
    source_type: str | None = Field(default=None, max_length=32)
    """Which source the image has: containerDisk, http, registry or pvc."""
    data_volume_phase: str | None = Field(default=None, max_length=64)
    """A snapshot's clone (CDI DataVolume) phase: Pending, CloneInProgress, Succeeded, Failed."""
    updated_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When the status last changed."""


KIND = Kind(
    kind="Image",
    plural="images",
    short_names=("img",),
    scope="Cluster",
    description="A Glance image: a boot disk's source, who may use it and what a server needs to boot it. "
    "Cluster-scoped, like Glance's catalog.",
    spec=ImageSpec,
    status=ImageStatus,
    columns=(
        Column("ID", ".status.id", priority=1),
        Column("Status", ".status.status"),
        Column("Visibility", ".spec.visibility"),
        Column("Owner", ".spec.owner"),
        Column("Disk Format", ".spec.diskFormat"),
        Column("Min Disk", ".spec.minDisk", "integer", "GiB"),
        Column("Min RAM", ".spec.minRam", "integer", "MiB"),
        Column("Protected", ".spec.protected", "boolean"),
        AGE,
    ),
)
