"""What the scheduler decides on: hosts (capacity and the facts filters read) and requests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

from kubenova.zones import DEFAULT_ZONE

Policy = Literal["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]


class Usage(NamedTuple):
    """What the claims on one host add up to (the ledger's sums per host). A tuple, so it is as
    cheap to make and read as the bare triple it replaces on the scheduler's hot path."""

    vcpus: int
    memory_mb: int
    disk_gb: int


@dataclasses.dataclass(frozen=True, slots=True)
class HostState:
    """A host's capacity and the facts the filters read; usage lives in the claims ledger."""

    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    enabled: bool = True
    up: bool = True
    zone: str = DEFAULT_ZONE
    aggregates: tuple[str, ...] = ()
    metadata: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    """Aggregate metadata as Nova's aggregate filters see it: each key with every value the
    host's aggregates give it."""
    architecture: str | None = None
    """The host's CPU architecture in Nova's words (x86_64, aarch64...), from the Node's
    ``kubernetes.io/arch`` label; None if the Node does not say."""
    reserved_memory_mb: int = 512
    cpu_ratio: float = 4.0
    ram_ratio: float = 1.0
    disk_ratio: float = 1.0
    # What may be claimed, after ratios and reservations: computed once, read on every decision.
    usable_vcpus: float = dataclasses.field(init=False)
    usable_memory_mb: float = dataclasses.field(init=False)
    usable_disk_gb: float = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "usable_vcpus", self.vcpus * self.cpu_ratio)
        object.__setattr__(self, "usable_memory_mb", (self.memory_mb - self.reserved_memory_mb) * self.ram_ratio)
        object.__setattr__(self, "usable_disk_gb", self.disk_gb * self.disk_ratio)


class Hosts:
    """The hosts of one scheduling round, with what is worth knowing about them all at once.

    Built when host facts change (not per decision), so a decision never rescans metadata.
    """

    __slots__ = ("by_name", "states", "static", "tenant_isolation")

    def __init__(self, states: Iterable[HostState]) -> None:
        self.states: tuple[HostState, ...] = tuple(states)
        self.by_name = {h.name: h for h in self.states}
        self.tenant_isolation = any(k.startswith("filter_tenant_id") for h in self.states for k in h.metadata)
        self.static: dict[object, Any] = {}
        """The verdicts of the filters that read only host facts and the request (zone,
        aggregate extra specs, tenant isolation), per kind of request: see
        :func:`kubenova.scheduling.scheduler.static_refusals`. Valid as long as these states are."""

    def __len__(self) -> int:
        return len(self.states)


@dataclasses.dataclass(frozen=True, slots=True)
class GroupSpec:
    """The server group a request belongs to, with where its other members are."""

    name: str
    policy: Policy
    member_hosts: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Host → how many other members of the group are on it."""
    max_server_per_host: int = 1


@dataclasses.dataclass(frozen=True, slots=True)
class RequestSpec:
    """One server to place (Nova's RequestSpec, reduced to what the filters read)."""

    key: str
    """namespace/name of the server; the claim is recorded under it."""
    namespace: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    zone: str | None = None
    group: GroupSpec | None = None
    same_host: frozenset[str] = frozenset()
    """Hosts of the servers named in the same_host hint."""
    different_host: frozenset[str] = frozenset()
    """Hosts of the servers named in the different_host hint."""
    ignore_hosts: frozenset[str] = frozenset()
    """Hosts never to choose (the source host of a cold migration)."""
    force_host: str | None = None
    """Only this host (an admin's target for migrate or evacuate); the filters still apply."""
    image_properties: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The booted Image's properties (ImagePropertiesFilter reads hw_architecture, img_hv_type,
    hw_vm_mode)."""
