"""Aggregate: Nova's host aggregate, cluster-scoped: a set of hosts with metadata the scheduler
matches (extra specs, tenant isolation, allocation ratios), and optionally an availability zone.

Nova's rule that a host cannot be in two aggregates with different zones is checked at
admission, since it involves other objects; the zone name's own rules are checked here.
"""

from __future__ import annotations

from pydantic import Field

from kubenova.api.common import AGE, ApiModel, Column, Kind, ObjectName, StatusBase, rule, rules

ZONE_RULES = rules(
    rule("!self.contains(':')", "an availability zone name cannot contain ':'"),
    rule("self != 'internal'", "'internal' is Nova's zone for services; choose another name"),
)


class AggregateSpec(ApiModel):
    """The aggregate's hosts, metadata and zone."""

    hosts: list[ObjectName] = Field(
        default_factory=list, max_length=10000, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Names of the Hosts (compute nodes) in the aggregate."""
    availability_zone: str | None = Field(default=None, min_length=1, max_length=255, json_schema_extra=ZONE_RULES)
    """The availability zone of the aggregate's hosts; hosts in no zone aggregate are in 'nova'."""
    metadata: dict[str, str] = Field(
        default_factory=dict,
        max_length=256,
        json_schema_extra=rules(
            rule(
                "self.all(k, size(k) <= 255 && size(self[k]) <= 255)",
                "aggregate metadata keys and values are at most 255 characters",
            ),
            rule(
                "!('availability_zone' in self)",
                "set the zone with spec.availabilityZone, not with metadata",
            ),
        ),
    )
    """Key/values the scheduler reads: keys matched by flavors' aggregate_instance_extra_specs,
    filter_tenant_id (namespaces allowed, for tenant isolation), cpu_allocation_ratio,
    ram_allocation_ratio, disk_allocation_ratio."""


class AggregateStatus(StatusBase):
    """The aggregate as the scheduler sees it."""

    CONDITIONS = "Ready when every listed host exists."

    id: str | None = Field(default=None, max_length=64)
    """Nova's id of the aggregate: the object's uid."""
    availability_zone: str | None = Field(default=None, max_length=255)
    """The zone in effect."""
    hosts: list[str] = Field(default_factory=list, max_length=10000)
    """The listed hosts that exist."""
    missing_hosts: list[str] = Field(default_factory=list, max_length=10000)
    """Listed hosts with no Host object (yet)."""


KIND = Kind(
    kind="Aggregate",
    plural="aggregates",
    short_names=("agg",),
    scope="Cluster",
    description="A Nova host aggregate: hosts grouped for scheduling, optionally forming an availability zone.",
    spec=AggregateSpec,
    status=AggregateStatus,
    spec_required=False,
    columns=(
        Column("Availability Zone", ".spec.availabilityZone"),
        Column("Hosts", ".spec.hosts"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        AGE,
    ),
)
