"""Server: a Nova server, run as a KubeVirt VirtualMachine or a Pod.

The spec declares what should be lasting, so GitOps can own it: the flavor (a change is a
resize), the image (a change is a rebuild), the power and vm state (``state``), ``locked`` and
``rescue``. The operator drives Nova's transitions to get there and mirrors Nova's view in
status: ``status``, ``vmState``, ``taskState``, ``powerState``, ``fault``, ``host``... One-shot
actions (reboot, migrate, confirm a resize) are ServerAction objects.

This module holds the spec's models and the kind; the status's are in :mod:`kubenova.api.server_status`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kubenova.api.common import (
    AGE,
    DNS_LABEL,
    ApiModel,
    Column,
    Kind,
    ObjectName,
    rule,
    rules,
)
from kubenova.api.server_status import Backend, ServerStatus

TargetState = Literal["active", "stopped", "paused", "suspended", "shelved", "shelved_offloaded"]
USER_DATA_MAX = 65535
"""Nova's limit on base64-encoded user data."""

Tag = Annotated[
    str,
    Field(
        min_length=1,
        max_length=60,
        json_schema_extra=rules(rule("!self.contains('/') && !self.contains(',')", "a tag cannot contain '/' or ','")),
    ),
]
MetadataValue = Annotated[str, Field(max_length=255)]


class BootVolume(ApiModel):
    """Boot from an existing volume instead of an image (Nova's boot-from-volume)."""

    claim_name: ObjectName
    """A PersistentVolumeClaim (or CDI DataVolume) in the server's namespace holding the root disk."""


DEVICE_NAME = r"^(/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$"
"""Nova's pattern for a device name (``parameter_types.device_name`` of os-volume_attachments)."""
MAX_VOLUMES = 26
"""Attachments a server may declare (one virtio or SCSI letter each, as libvirt's vdb..vdz)."""


class VolumeAttachment(ApiModel):
    """A volume (a PersistentVolumeClaim of the server's namespace) attached to the server, as
    Nova's os-volume_attachments does with a Cinder volume."""

    claim_name: ObjectName
    """The PersistentVolumeClaim, in the server's namespace. It need not be Bound: it is attached
    once it exists (the storage binds it when the workload first uses it). A claim attached to
    another server is refused unless it is ReadWriteMany (Nova's multiattach)."""
    device: str | None = Field(default=None, max_length=32, pattern=DEVICE_NAME)
    """The device name to ask for, e.g. /dev/vdb (advisory, as in Nova: the hypervisor names the
    disk). Left out, the next free name is given."""
    tag: Tag | None = None
    """A device role tag (Nova's 2.49 tag), kept in the attachment (status.volumeAttachments). Not
    yet in the guest's meta_data.json devices."""
    delete_on_termination: bool = False
    """Delete the claim when the server is deleted (Nova's delete_on_termination)."""


_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
NETWORK_REF = rf"^(auto|none|pod|({_LABEL}/)?{_LABEL}(\.{_LABEL})*)$"
"""A network: ``pod``, ``auto``, ``none``, or a NetworkAttachmentDefinition as ``name`` or ``namespace/name``."""
MAX_NETWORKS = 16


class ServerNetwork(ApiModel):
    """One of the server's networks (an entry of Nova's ``networks`` on create)."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule(
                "!has(self.fixedIp) || !(self.network in ['auto', 'none', 'pod'])",
                "fixedIp needs a secondary network (a NetworkAttachmentDefinition): the pod network's "
                "addresses come from the cluster's CNI",
                field_path=".fixedIp",
            ),
            rule(
                "!has(self.interface) || !(self.network in ['auto', 'none'])",
                "interface needs a network",
                field_path=".interface",
            ),
            rule(
                "!has(self.interface) || self.interface != 'sriov' || self.network != 'pod'",
                "the pod network cannot be an SR-IOV interface",
                field_path=".interface",
            ),
        )
    }

    network: str = Field(max_length=317, pattern=NETWORK_REF)
    """``pod`` (the cluster's pod network), a Multus NetworkAttachmentDefinition (``name`` in the
    server's namespace, or ``namespace/name``), or alone ``auto`` (the pod network) or ``none``
    (no network), as Nova's 2.37 ``networks: auto|none``."""
    fixed_ip: str | None = Field(
        default=None,
        max_length=45,
        json_schema_extra=rules(rule("isIP(self)", "fixedIp must be an IPv4 or IPv6 address")),
    )
    """A fixed IP on that network (Nova's fixed_ip), passed to Multus as the selection's ``ips``;
    the attachment's IPAM must allow it (a CNI config with the ``ips`` capability)."""
    interface: Literal["bridge", "sriov"] | None = None
    """KubeVirt only: how the VM's NIC joins the network. Left out: sriov when the
    NetworkAttachmentDefinition is an SR-IOV one, else bridge (masquerade on the pod network)."""
    tag: Tag | None = None
    """A device role tag (Nova's 2.32 tag), kept with the request."""


class SchedulerHints(ApiModel):
    """Nova's scheduler hints."""

    group: ObjectName | None = None
    """A ServerGroup in this namespace whose policy applies to this server."""
    same_host: list[ObjectName] = Field(default_factory=list, max_length=100)
    """Place on the same host as these servers of this namespace (SameHostFilter)."""
    different_host: list[ObjectName] = Field(default_factory=list, max_length=100)
    """Place on a different host from these servers of this namespace (DifferentHostFilter)."""


class ServerSpec(ApiModel):
    """The server as the user wants it."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule(
                "has(self.image) != has(self.bootVolume)",
                "give exactly one of image or bootVolume",
            ),
            rule(
                "!has(self.lockedReason) || self.locked",
                "lockedReason can only be set when locked is true",
                field_path=".lockedReason",
            ),
            rule(
                "has(self.backend) == has(oldSelf.backend) && (!has(self.backend) || self.backend == oldSelf.backend)",
                "backend cannot change after creation: create a new Server",
                field_path=".backend",
            ),
            rule(
                "has(self.bootVolume) == has(oldSelf.bootVolume)"
                " && (!has(self.bootVolume) || self.bootVolume == oldSelf.bootVolume)",
                "a server's boot volume cannot change after creation",
                field_path=".bootVolume",
            ),
            rule(
                "!has(oldSelf.bootVolume) || has(self.bootVolume)",
                "Cannot detach a root device volume: spec.bootVolume is the server's root disk for its lifetime",
                field_path=".bootVolume",
            ),
            rule(
                "!has(self.bootVolume) || !has(self.volumes)"
                " || self.volumes.all(v, v.claimName != self.bootVolume.claimName)",
                "the bootVolume's claim is the server's root device volume: do not list it in volumes",
                field_path=".volumes",
            ),
            rule(
                "has(self.networks) == has(oldSelf.networks)"
                " && (!has(self.networks) || self.networks == oldSelf.networks)",
                "networks cannot change after creation (Nova's interface attach and detach are not supported)",
                field_path=".networks",
            ),
            rule(
                "!has(self.availabilityZone) || !has(oldSelf.availabilityZone)"
                " || self.availabilityZone == oldSelf.availabilityZone",
                "availabilityZone cannot change after creation: the server stays where it was placed",
                field_path=".availabilityZone",
            ),
        )
    }

    flavor: ObjectName
    """The Flavor (its vCPUs, memory and disks). Changing it resizes the server."""
    image: str | None = Field(default=None, min_length=1, max_length=1024)
    """The image: the name of an Image (kubevirt: a persistent root disk imported from its
    source) or, if no Image has that name, a plain reference: a container image for the
    container backend, an ephemeral containerDisk for KubeVirt (quick trials).
    Changing it rebuilds the server on the same host."""
    boot_volume: BootVolume | None = None
    """Boot from a volume instead of an image (KubeVirt only). It is the root device volume:
    it cannot be detached."""
    volumes: list[VolumeAttachment] = Field(
        default_factory=list,
        max_length=MAX_VOLUMES,
        json_schema_extra=rules(
            rule("self.all(a, self.exists_one(b, b.claimName == a.claimName))", "a volume can be attached only once"),
            rule(
                "self.all(a, !has(a.device) || self.exists_one(b, has(b.device) && b.device == a.device))",
                "two volumes cannot ask for the same device",
            ),
            rule(
                "self.all(a, !has(a.device) || !(a.device in ['/dev/vda', '/dev/sda', '/dev/xvda', '/dev/hda']))",
                "the first disk's device name is the root disk's",
            ),
        ),
    )
    """Volumes to attach (Nova's os-volume_attachments), declaratively: adding one attaches it,
    removing one detaches it, each in a vm_state Nova allows (active, paused, stopped, resized,
    shelved, shelved_offloaded). A running VM gets it hot-plugged; a container's Pod gets it at its
    next start (its volumes cannot change while it runs)."""
    backend: Backend | None = None
    """kubevirt (a VirtualMachine) or container (a Pod). Left out: the flavor's extra spec
    kubenova:backend, else the operator's default. Immutable."""
    key_name: ObjectName | None = None
    """A Keypair in this namespace, whose public key is injected."""
    availability_zone: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        json_schema_extra=rules(
            rule(
                "!self.contains(':')",
                "availabilityZone takes a zone name; 'zone:host' forcing is not supported, use an Aggregate or "
                "schedulerHints",
            ),
            rule("self != 'internal'", "'internal' is Nova's zone for services, not for servers"),
        ),
    )
    """The availability zone to place the server in; left out, any zone."""
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict,
        max_length=1024,
        json_schema_extra=rules(
            rule("self.all(k, size(k) >= 1 && size(k) <= 255)", "metadata keys are 1 to 255 characters"),
        ),
    )
    """Free key/values (Nova's server metadata), shown to the guest in meta_data.json. Values are at
    most 255 characters; the namespace's metadata_items quota limits how many."""
    user_data: str | None = Field(default=None, max_length=USER_DATA_MAX, json_schema_extra={"format": "byte"})
    """Base64-encoded user data (cloud-init), at most 65535 characters encoded, as in Nova."""
    hostname: str | None = Field(default=None, max_length=63, pattern=DNS_LABEL)
    """The guest's hostname (defaults to the server's name)."""
    description: str | None = Field(default=None, max_length=255)
    """Free text."""
    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    """Nova's server name, which may be any string and need not be unique (the Compute API sets it
    and renames change only it); left out, the server's Nova name is its Kubernetes name."""
    tags: list[Tag] = Field(default_factory=list, max_length=50, json_schema_extra={"x-kubernetes-list-type": "set"})
    """Nova's server tags: at most 50, each at most 60 characters without '/' or ','."""
    config_drive: bool = False
    """Attach an OpenStack-format config drive (meta_data.json, user data, keys) as Nova does."""
    scheduler_hints: SchedulerHints | None = None
    """Nova's scheduler hints: server group, same host, different host."""
    state: TargetState = "active"
    """The lasting state to reach: active, stopped, paused, suspended, shelved or shelved_offloaded.
    The operator takes Nova's allowed transitions to get there (e.g. unpause before stop)."""
    locked: bool = False
    """A locked server refuses every action, delete included, until unlocked (Nova's lock)."""
    locked_reason: str | None = Field(default=None, max_length=255)
    """Why it is locked (Nova's locked_reason)."""
    rescue: bool = False
    """Boot the server into rescue mode (Nova's rescue); false unrescues it."""
    rescue_image: str | None = Field(default=None, min_length=1, max_length=1024)
    """The image to rescue from; left out, the server's own image."""
    auto_confirm_resize: bool = False
    """Confirm a resize as soon as it reaches VERIFY_RESIZE, instead of waiting for a confirmResize action."""
    networks: list[ServerNetwork] = Field(
        default_factory=list,
        max_length=MAX_NETWORKS,
        json_schema_extra=rules(
            rule(
                "size(self) == 1 || self.all(n, !(n.network in ['auto', 'none']))",
                "auto and none stand alone: they are Nova's networks: 'auto' and 'none', not networks of a list",
            ),
            rule("self.all(a, self.exists_one(b, b.network == a.network))", "a network can be asked for only once"),
        ),
    )
    """Nova's ``networks`` on create. Left out (or ``[{network: auto}]``): the pod network. A list:
    those networks, in order (``pod`` for the pod network). ``[{network: none}]``: a VM without a
    network interface (a Pod still has the pod network: Kubernetes gives every Pod one).
    Immutable, as Nova's interface attach is not supported."""
    security_groups: list[ObjectName] = Field(
        default_factory=lambda: ["default"],
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "set", "default": ["default"]},
    )
    """SecurityGroups of this namespace whose rules apply to the server (Nova's security_groups;
    ``[default]`` when left out, as Nova does). A change applies at once, without a restart."""


KIND = Kind(
    kind="Server",
    plural="servers",
    short_names=("srv",),
    scope="Namespaced",
    description="A Nova server: a virtual machine (KubeVirt) or a container (Pod) placed by Nova's scheduler.",
    spec=ServerSpec,
    status=ServerStatus,
    columns=(
        Column("Display Name", ".spec.displayName", priority=1),
        Column("Status", ".status.status"),
        Column("Task State", ".status.taskState"),
        Column("Power State", ".status.powerState"),
        Column("Networks", ".status.addresses[*].addr"),
        Column("Security Groups", ".spec.securityGroups", priority=1),
        Column("Image", ".spec.image"),
        Column("Flavor", ".spec.flavor"),
        Column("Host", ".status.host", priority=1),
        Column("Zone", ".status.availabilityZone", priority=1),
        Column("Backend", ".status.backend", priority=1),
        Column("Locked", ".spec.locked", "boolean", priority=1),
        AGE,
    ),
)
