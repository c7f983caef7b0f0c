"""The status of a Server as Nova shows it (``openstack server show``): :class:`ServerStatus`
and its sub-models (the embedded flavor, addresses, the claim on a host, a migration, the
action history, the workload, attached volumes and the booted image's volume). The operator
writes it; :mod:`kubenova.api.servers` names it as the Server kind's status, so these models
generate part of the Server CRD.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import (
    DATE_TIME,
    ApiModel,
    Fault,
    StatusBase,
)
from kubenova.api.images import BootedImage

Backend = Literal["kubevirt", "container"]
"""What runs a server: a KubeVirt VirtualMachine or a Pod."""


class EmbeddedFlavor(ApiModel):
    """A copy of the flavor as placed, as Nova embeds it since microversion 2.47."""

    original_name: str = Field(max_length=253)
    """The Flavor's name."""
    vcpus: int = Field(ge=0)
    """vCPUs."""
    ram: int = Field(ge=0)
    """Memory in MiB."""
    disk: int = Field(default=0, ge=0)
    """Root disk in GiB."""
    ephemeral: int = Field(default=0, ge=0)
    """Ephemeral disk in GiB."""
    swap: int = Field(default=0, ge=0)
    """Swap in MiB."""
    extra_specs: dict[str, str] = Field(default_factory=dict, max_length=256)
    """The flavor's extra specs."""


class Address(ApiModel):
    """One address of the server (Nova's addresses, flattened)."""

    network: str = Field(max_length=253)
    """The network's name: pod for the pod network."""
    addr: str = Field(max_length=64)
    """The IP address."""
    version: Literal[4, 6] = 4
    """4 or 6."""
    type: Literal["fixed", "floating"] = "fixed"
    """Nova's OS-EXT-IPS:type."""
    mac_addr: str | None = Field(default=None, max_length=32)
    """The MAC address, when known (OS-EXT-IPS-MAC:mac_addr)."""


class Claim(ApiModel):
    """Resources the scheduler claimed on the host, recorded before the workload is made."""

    host: str = Field(max_length=253)
    """The host claimed."""
    vcpus: int = Field(ge=0)
    """vCPUs claimed."""
    memory_mb: int = Field(ge=0)
    """Memory claimed, in MiB."""
    disk_gb: int = Field(ge=0)
    """Disk claimed, in GiB."""


class Migration(ApiModel):
    """The server's move in progress or last made (os-migrations)."""

    kind: Literal["resize", "migration", "live-migration", "evacuation"]
    """What kind of move."""
    source_host: str | None = Field(default=None, max_length=253)
    """Where the server was."""
    dest_host: str | None = Field(default=None, max_length=253)
    """Where it goes."""
    old_flavor: str | None = Field(default=None, max_length=253)
    """The flavor before a resize."""
    new_flavor: str | None = Field(default=None, max_length=253)
    """The flavor after a resize."""
    status: str = Field(max_length=64)
    """Nova's migration status: migrating, finished, confirmed, reverted; for a live migration
    accepted, queued, preparing, running, completed, error or cancelled."""
    previous_vm_state: str | None = Field(default=None, max_length=32)
    """The vm_state the server returns to on confirm or revert."""
    source_claim: Claim | None = None
    """What the server held on the source host; kept until the move is confirmed or reverted."""
    source_flavor: EmbeddedFlavor | None = None
    """The flavor before a resize, restored by a revert."""
    request_id: str | None = Field(default=None, max_length=64)
    """The request id of the action that made the move (its Migration record is named after it)."""
    created: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When the move started."""
    abort_requested: bool | None = None
    """A live migration's abort was asked for (its KubeVirt migration is deleted)."""


class ActionRecord(ApiModel):
    """One entry of the action history (openstack server event list)."""

    request_id: str = Field(max_length=64)
    """req-<uuid>."""
    action: str = Field(max_length=64)
    """Nova's action name: create, stop, start, reboot, resize..."""
    start_time: str = Field(json_schema_extra=DATE_TIME)
    """When it began."""
    finish_time: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When it ended."""
    result: Literal["Success", "Error"] | None = None
    """How it ended."""
    message: str | None = Field(default=None, max_length=4096)
    """The error, for a failed action."""
    server_action: str | None = Field(default=None, max_length=253)
    """The ServerAction that asked for it, if one did."""


class Workload(ApiModel):
    """The object that runs the server."""

    api_version: str = Field(max_length=128)
    """v1 for a Pod, kubevirt.io/v1 for a VirtualMachine."""
    kind: str = Field(max_length=64)
    """Pod or VirtualMachine."""
    name: str = Field(max_length=253)
    """Its name, in the server's namespace."""
    revision: str | None = Field(default=None, max_length=64)
    """The boot the workload must carry (the request id of the action that last remade it);
    a workload carrying another one is replaced."""


class AttachedVolume(ApiModel):
    """One volume attachment as the server has it (Nova's os-volume_attachments entry)."""

    id: str = Field(max_length=253)
    """The volume's id: its claim's name."""
    server_id: str | None = Field(default=None, max_length=64)
    """The server's id."""
    device: str | None = Field(default=None, max_length=32)
    """The device name given."""
    tag: str | None = Field(default=None, max_length=60)
    """The device role tag."""
    delete_on_termination: bool = False
    """Whether the claim is deleted with the server."""
    state: Literal["attaching", "attached", "detaching"] = "attached"
    """attaching and detaching while KubeVirt hot-plugs it, or while it waits for a Pod's next start."""
    pending_restart: bool | None = None
    """The container backend: recorded, but the running Pod gets (or drops) it only at its next start."""
    root: bool | None = None
    """The root device volume of a boot-from-volume server (spec.bootVolume): never detached."""


class VolumeRef(ApiModel):
    """One volume of os-extended-volumes:volumes_attached."""

    id: str = Field(max_length=253)
    """The volume's id: its claim's name."""
    delete_on_termination: bool = False
    """Whether it is deleted with the server."""


class ConsoleAccess(ApiModel):
    """One way to reach the server's console."""

    protocol: Literal["serial", "vnc", "exec", "attach", "log"]
    """serial and vnc (KubeVirt's subresources), exec and attach (a Pod), log (console output)."""
    command: str = Field(max_length=1024)
    """The command that connects (virtctl or kubectl)."""
    path: str | None = Field(default=None, max_length=1024)
    """The Kubernetes API path behind it, where there is one (``kubectl get --raw`` for a log)."""


class ServerConsole(ApiModel):
    """How to reach the server's console (Nova's remote consoles and console output)."""

    type: Literal["serial", "exec"]
    """serial: a VM's serial console and VNC; exec: a container, reached with kubectl exec."""
    access: list[ConsoleAccess] = Field(default_factory=list, max_length=8)
    """Each way in."""


class ServerStatus(StatusBase):
    """The server as Nova shows it (openstack server show)."""

    CONDITIONS = (
        "Ready (ACTIVE, or the declared state reached), Scheduled, Synced, VolumesPending (a volume change"
        " the container backend applies at the Pod's next start)."
    )

    id: str | None = Field(default=None, max_length=64)
    """Nova's server id: the object's uid."""
    status: str | None = Field(default=None, max_length=32)
    """Nova's API status: BUILD, ACTIVE, SHUTOFF, PAUSED, SUSPENDED, RESIZE, VERIFY_RESIZE, REBOOT,
    HARD_REBOOT, REBUILD, MIGRATING, RESCUE, SHELVED, SHELVED_OFFLOADED, ERROR, DELETED, UNKNOWN."""
    vm_state: str | None = Field(default=None, max_length=32)
    """OS-EXT-STS:vm_state."""
    task_state: str | None = Field(default=None, max_length=64)
    """OS-EXT-STS:task_state; absent when no task is in flight."""
    power_state: str | None = Field(default=None, max_length=32)
    """The power state's name: NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED."""
    power_state_code: int | None = Field(default=None, ge=0, le=7)
    """OS-EXT-STS:power_state, Nova's number: 0, 1, 3, 4, 6 or 7."""
    fault: Fault | None = None
    """Why the server is in ERROR (or why the last action failed)."""
    host: str | None = Field(default=None, max_length=253)
    """OS-EXT-SRV-ATTR:host, the Host the server is placed on."""
    hypervisor_hostname: str | None = Field(default=None, max_length=253)
    """OS-EXT-SRV-ATTR:hypervisor_hostname (the Node)."""
    availability_zone: str | None = Field(default=None, max_length=255)
    """OS-EXT-AZ:availability_zone of the host."""
    backend: Backend | None = None
    """The backend in use."""
    claim: Claim | None = None
    """The scheduler's claim on the host."""
    workload: Workload | None = None
    """The Pod or VirtualMachine that runs the server."""
    addresses: list[Address] = Field(default_factory=list, max_length=64)
    """The server's IP addresses."""
    console: ServerConsole | None = None
    """How to reach its console (set when it is placed)."""
    flavor: EmbeddedFlavor | None = None
    """The flavor as placed; servers keep it if the Flavor is deleted."""
    image: str | None = Field(default=None, max_length=1024)
    """The image the server runs."""
    image_source: BootedImage | None = None
    """What the server keeps of the Image it booted, when spec.image names an Image."""
    key_name: str | None = Field(default=None, max_length=253)
    """The keypair injected."""
    locked: bool | None = None
    """Whether the server is locked."""
    locked_reason: str | None = Field(default=None, max_length=255)
    """Why."""
    launched_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """OS-SRV-USG:launched_at: when the server first became ACTIVE."""
    terminated_at: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """OS-SRV-USG:terminated_at."""
    updated: str | None = Field(default=None, json_schema_extra=DATE_TIME)
    """When the operator last changed this status."""
    progress: int | None = Field(default=None, ge=0, le=100)
    """Progress of a build, resize or migration, in percent."""
    migration: Migration | None = None
    """The move in progress or last made."""
    actions: list[ActionRecord] = Field(default_factory=list, max_length=50)
    """The latest actions, newest last (openstack server event list)."""
    volume_attachments: list[AttachedVolume] = Field(default_factory=list, max_length=64)
    """The volumes attached, attaching or detaching (openstack server volume list), the root
    volume of a boot-from-volume server first."""
    volumes_attached: list[VolumeRef] = Field(default_factory=list, max_length=64)
    """os-extended-volumes:volumes_attached: the volumes attached, as openstack server show lists them."""
