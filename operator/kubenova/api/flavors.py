"""Flavor: Nova's flavor, cluster-scoped like Nova's, with its extra specs and access list.

As in Nova, a flavor's sizes never change after creation (only its description, extra specs
and access list do): a server's size changes by resizing it to another flavor. A private
flavor (``isPublic: false``) is usable only by the namespaces on its access list.
"""

from __future__ import annotations

from pydantic import Field

from kubenova.api.common import (
    AGE,
    ApiModel,
    Column,
    Kind,
    NamespaceName,
    StatusBase,
    rule,
    rules,
)

BACKEND_EXTRA_SPEC = "kubenova:backend"
"""The extra spec that picks a backend for the flavor's servers when their spec does not."""

SIZES = ("vcpus", "ram", "disk", "ephemeral", "swap", "rxtxFactor", "isPublic")


class FlavorSpec(ApiModel):
    """The sizes and properties of servers of this flavor."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": rules(
            rule(
                " && ".join(f"self.{f} == oldSelf.{f}" for f in SIZES),
                "a Flavor's sizes and visibility are immutable (vcpus, ram, disk, ephemeral, swap, rxtxFactor, "
                "isPublic), as in Nova: create another Flavor and resize servers to it",
                reason="FieldValueForbidden",
            ),
            rule(
                "!self.isPublic || !has(self.access) || size(self.access) == 0",
                "access lists only apply to private flavors: set isPublic: false or remove access",
                field_path=".access",
            ),
        )
    }

    vcpus: int = Field(ge=1, le=4096)
    """Virtual CPUs (Nova's vcpus)."""
    ram: int = Field(ge=1, le=64 * 1024 * 1024)
    """Memory in MiB (Nova's ram)."""
    disk: int = Field(default=0, ge=0, le=1024 * 1024)
    """Root disk in GiB; 0 means the image's own size (Nova's disk)."""
    ephemeral: int = Field(default=0, ge=0, le=1024 * 1024)
    """Ephemeral disk in GiB (OS-FLV-EXT-DATA:ephemeral)."""
    swap: int = Field(default=0, ge=0, le=1024 * 1024)
    """Swap in MiB."""
    rxtx_factor: float = Field(default=1.0, gt=0)
    """Relative network bandwidth (Nova's rxtx_factor); kept for fidelity, not enforced."""
    is_public: bool = True
    """Whether every namespace may use it (os-flavor-access:is_public). Immutable."""
    access: list[NamespaceName] = Field(
        default_factory=list, max_length=1024, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Namespaces allowed to use a private flavor (os-flavor-access)."""
    description: str | None = Field(default=None, max_length=65535)
    """Free text, the one field Nova lets you change (since 2.55)."""
    extra_specs: dict[str, str] = Field(
        default_factory=dict,
        max_length=256,
        json_schema_extra=rules(
            rule(
                "self.all(k, size(k) <= 255 && size(self[k]) <= 255)",
                "extra spec keys and values are at most 255 characters",
            ),
            rule(
                f"!('{BACKEND_EXTRA_SPEC}' in self) || self['{BACKEND_EXTRA_SPEC}'] in ['kubevirt', 'container']",
                f"extra spec {BACKEND_EXTRA_SPEC} must be kubevirt or container",
            ),
        ),
    )
    """Nova's extra specs, free key/values: hw:cpu_policy, aggregate_instance_extra_specs:<key>,
    kubenova:backend (kubevirt or container)..."""


class FlavorStatus(StatusBase):
    """What the operator observed of the flavor."""

    CONDITIONS = "Ready once the flavor can be used."

    id: str | None = Field(default=None, max_length=64)
    """Nova's flavor id: the object's uid."""


KIND = Kind(
    kind="Flavor",
    plural="flavors",
    short_names=("flv",),
    scope="Cluster",
    description="A Nova flavor: the vCPUs, memory and disks of the servers that use it. Cluster-scoped, like Nova's.",
    spec=FlavorSpec,
    status=FlavorStatus,
    columns=(
        Column("VCPUs", ".spec.vcpus", "integer"),
        Column("RAM", ".spec.ram", "integer", "Memory in MiB"),
        Column("Disk", ".spec.disk", "integer", "Root disk in GiB"),
        Column("Ephemeral", ".spec.ephemeral", "integer", "Ephemeral disk in GiB"),
        Column("Public", ".spec.isPublic", "boolean"),
        Column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        AGE,
    ),
)
