"""Quota: a namespace's Nova quota set (a namespace is a Nova project).

One Quota per namespace, named ``default``, so limits are never ambiguous; resources it leaves
out keep the operator's defaults (Nova's: 10 instances, 20 cores, 51200 MiB of RAM...). -1 means
unlimited. Status reads like ``os-quota-sets/{project}/detail`` and Nova's ``/limits``.
"""

from __future__ import annotations

from pydantic import Field

from kubenova.api.common import AGE, ApiModel, Column, Kind, StatusBase, rule

QUOTA_NAME = "default"


class QuotaSpec(ApiModel):
    """Limits for the namespace; -1 is unlimited, an unset one keeps the operator's default."""

    instances: int | None = Field(default=None, ge=-1)
    """Servers."""
    cores: int | None = Field(default=None, ge=-1)
    """vCPUs of all servers."""
    ram: int | None = Field(default=None, ge=-1)
    """Memory of all servers, in MiB."""
    key_pairs: int | None = Field(default=None, ge=-1)
    """Keypairs."""
    metadata_items: int | None = Field(default=None, ge=-1)
    """Metadata items per server."""
    server_groups: int | None = Field(default=None, ge=-1)
    """Server groups."""
    server_group_members: int | None = Field(default=None, ge=-1)
    """Servers per server group."""


class Usage(ApiModel):
    """One resource, as os-quota-sets/detail shows it."""

    limit: int
    """The limit in effect (-1: unlimited)."""
    in_use: int = Field(ge=0)
    """What the namespace uses."""
    reserved: int = Field(default=0, ge=0)
    """Claimed by creates in flight."""


class AbsoluteLimits(ApiModel):
    """Nova's /limits "absolute" view, field for field."""

    max_total_instances: int
    """Limit of servers."""
    total_instances_used: int
    """Servers in the namespace."""
    max_total_cores: int
    """Limit of vCPUs."""
    total_cores_used: int
    """vCPUs in use."""
    max_total_ram_size: int = Field(alias="maxTotalRAMSize")
    """Limit of memory, in MiB."""
    total_ram_used: int = Field(alias="totalRAMUsed")
    """Memory in use, in MiB."""
    max_total_keypairs: int
    """Limit of keypairs."""
    max_server_meta: int
    """Limit of metadata items per server."""
    max_server_groups: int
    """Limit of server groups."""
    total_server_groups_used: int
    """Server groups in the namespace."""
    max_server_group_members: int
    """Limit of servers per server group."""


class QuotaStatus(StatusBase):
    """Limits and usage of the namespace."""

    CONDITIONS = "Ready once usage has been counted."

    resources: dict[str, Usage] = Field(default_factory=dict, max_length=32)
    """Per resource (instances, cores, ram, key_pairs, ...): limit, inUse, reserved."""
    absolute: AbsoluteLimits | None = None
    """The same numbers under Nova's /limits names (maxTotalInstances, totalInstancesUsed, ...)."""


KIND = Kind(
    kind="Quota",
    plural="quotas",
    short_names=("qs",),
    scope="Namespaced",
    description="A Nova quota set for the namespace. There is at most one, named 'default'.",
    spec=QuotaSpec,
    status=QuotaStatus,
    spec_required=False,
    name_rules=(
        rule(
            f"self == '{QUOTA_NAME}'",
            f"a namespace has one Quota and it is named '{QUOTA_NAME}', so its limits are never ambiguous",
        ),
    ),
    columns=(
        Column("Instances", ".status.absolute.totalInstancesUsed", "integer"),
        Column("Max Instances", ".status.absolute.maxTotalInstances", "integer"),
        Column("Cores", ".status.absolute.totalCoresUsed", "integer"),
        Column("Max Cores", ".status.absolute.maxTotalCores", "integer"),
        Column("RAM", ".status.absolute.totalRAMUsed", "integer", "MiB"),
        Column("Max RAM", ".status.absolute.maxTotalRAMSize", "integer", "MiB"),
        AGE,
    ),
)
