"""Host: a compute host (Nova's hypervisor and its nova-compute service), one per compute Node.

The operator creates a Host for every Node labelled as a compute host. Its spec is what an admin
sets through os-services (enable/disable with a reason, forced down) plus overrides of the
allocation ratios and reserved resources; its status reads like os-hypervisors.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubenova.api.common import AGE, ApiModel, Column, Kind, ObjectRef, StatusBase, rule, rules


class AllocationRatios(ApiModel):
    """Overcommit ratios; unset ones come from the host's aggregates, then the operator's settings."""

    cpu: float | None = Field(default=None, gt=0, le=1000)
    """vCPUs placed per physical CPU (Nova's cpu_allocation_ratio; default 4.0)."""
    ram: float | None = Field(default=None, gt=0, le=1000)
    """Memory placed per MiB of memory (ram_allocation_ratio; default 1.0)."""
    disk: float | None = Field(default=None, gt=0, le=1000)
    """Disk placed per GiB of disk (disk_allocation_ratio; default 1.0)."""


class Reserved(ApiModel):
    """Resources kept back for the host itself."""

    memory_mb: int | None = Field(default=None, ge=0)
    """Memory in MiB reserved for the host (Nova's reserved_host_memory_mb; default 512)."""


class HostSpec(ApiModel):
    """What an admin decides about the host."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule(
                "!has(self.disabledReason) || !self.enabled",
                "disabledReason is only for a disabled host: set enabled: false",
                field_path=".disabledReason",
            ),
        )
    }

    enabled: bool = True
    """Whether new servers may be placed here (os-services enable/disable). Existing servers stay."""
    disabled_reason: str | None = Field(default=None, max_length=255)
    """Why the host is disabled (os-services disable-log-reason)."""
    forced_down: bool = False
    """Mark the host down whatever its Node says (os-services forced_down), for fencing and evacuation."""
    maintenance: Literal["migrate", "stop"] | None = None
    """Empty the host: migrate moves its servers to other hosts, stop stops them. Disable the host too,
    or the scheduler may place new servers here."""
    allocation_ratios: AllocationRatios | None = None
    """Overcommit ratios for this host."""
    reserved: Reserved | None = None
    """Resources kept back for the host itself."""


class HostMaintenance(ApiModel):
    """How far the maintenance in spec.maintenance has come."""

    mode: Literal["migrate", "stop"]
    """The maintenance asked for."""
    state: Literal["in-progress", "complete"]
    """complete once no server is left on the host (migrate) or none runs there (stop)."""
    servers_left: int = Field(ge=0)
    """Servers still placed on the host (migrate), or still running or busy there (stop)."""


class HostStatus(StatusBase):
    """The host as os-hypervisors shows it."""

    CONDITIONS = "Ready while the host is up and enabled."

    hypervisor_hostname: str | None = Field(default=None, max_length=253)
    """The Node's name."""
    host_ip: str | None = Field(default=None, max_length=64)
    """The Node's internal IP."""
    state: Literal["up", "down"] | None = None
    """up while the Node is Ready and the host is not forced down."""
    status: Literal["enabled", "disabled"] | None = None
    """From spec.enabled."""
    availability_zone: str | None = Field(default=None, max_length=255)
    """The zone of the host's aggregates, or nova."""
    aggregates: list[str] = Field(default_factory=list, max_length=1000)
    """Aggregates the host is in."""
    vcpus: int | None = Field(default=None, ge=0)
    """Physical CPUs of the Node."""
    vcpus_used: int | None = Field(default=None, ge=0)
    """vCPUs claimed by servers on the host."""
    memory_mb: int | None = Field(default=None, ge=0)
    """Memory of the Node in MiB."""
    memory_mb_used: int | None = Field(default=None, ge=0)
    """Memory claimed by servers plus the host's reserved memory, in MiB (as os-hypervisors counts it)."""
    local_gb: int | None = Field(default=None, ge=0)
    """Ephemeral storage of the Node in GiB."""
    local_gb_used: int | None = Field(default=None, ge=0)
    """Disk claimed by servers, in GiB."""
    running_vms: int | None = Field(default=None, ge=0)
    """Servers placed on the host."""
    allocation_ratios: dict[str, float] = Field(default_factory=dict, max_length=8)
    """The ratios in effect (cpu, ram, disk)."""
    servers: list[ObjectRef] = Field(default_factory=list, max_length=10000)
    """The servers placed on the host."""
    maintenance: HostMaintenance | None = None
    """While spec.maintenance is set: how far it has come."""


KIND = Kind(
    kind="Host",
    plural="hosts",
    short_names=("hv",),
    scope="Cluster",
    description="A compute host (Nova's hypervisor): one per compute Node, created by the operator.",
    spec=HostSpec,
    status=HostStatus,
    spec_required=False,
    columns=(
        Column("State", ".status.state"),
        Column("Status", ".status.status"),
        Column("Zone", ".status.availabilityZone"),
        Column("VCPUs Used", ".status.vcpusUsed", "integer"),
        Column("VCPUs", ".status.vcpus", "integer"),
        Column("Memory Used", ".status.memoryMbUsed", "integer", "MiB"),
        Column("Memory", ".status.memoryMb", "integer", "MiB"),
        Column("Servers", ".status.runningVms", "integer"),
        Column("Maintenance", ".status.maintenance.state", priority=1),
        Column("Host IP", ".status.hostIp", priority=1),
        Column("Disabled Reason", ".spec.disabledReason", priority=1),
        AGE,
    ),
)
