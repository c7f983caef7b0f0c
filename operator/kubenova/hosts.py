"""What a Host's status says, from its Node and its spec: Nova's os-hypervisors and os-services.

Pure; called by :mod:`kubenova.handlers.hosts`, which feeds it facts from kopf indexes and
writes the result only when it differs from what the Host already shows.

Nova's vocabulary is kept: ``state`` is up/down (the Node's Ready condition, unless the admin
forced the host down), ``status`` is enabled/disabled (``spec.enabled``). As in os-hypervisors
before microversion 2.88, ``memoryMbUsed`` counts the host's reserved memory as used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from kubenova import conditions, labels, quantities
from kubenova.zones import DEFAULT_ZONE


@dataclasses.dataclass(frozen=True)
class NodeFacts:
    """The parts of a Node that a Host reflects; kept in a kopf index, so small and hashable."""

    name: str
    ready: bool
    vcpus: int
    memory_mb: int
    local_gb: int
    host_ip: str
    compute: bool
    zone_label: str | None = None
    """The availability zone kubenova last wrote into the Node's label."""

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> NodeFacts:
        meta = node.get("metadata", {})
        status = node.get("status", {})
        capacity = status.get("capacity", {})
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        ip = next((a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"), "")
        return cls(
            name=meta["name"],
            ready=ready,
            vcpus=quantities.to_int(capacity.get("cpu", 0)),
            memory_mb=quantities.to_int(capacity.get("memory", 0), quantities.MIB),
            local_gb=quantities.to_int(capacity.get("ephemeral-storage", 0), quantities.GIB),
            host_ip=ip,
            compute=meta.get("labels", {}).get(labels.COMPUTE_HOST) == "true",
            zone_label=meta.get("labels", {}).get(labels.AVAILABILITY_ZONE),
        )


@dataclasses.dataclass(frozen=True)
class Usage:
    """What the servers placed on a host consume (from the scheduler's claims)."""

    vcpus: int = 0
    memory_mb: int = 0
    local_gb: int = 0
    servers: tuple[tuple[str, str, str], ...] = ()
    """(namespace, name, uid) of each server on the host."""


def status(
    *,
    node: NodeFacts | None,
    spec: Mapping[str, Any],
    generation: int | None,
    previous: Mapping[str, Any],
    usage: Usage,
    reserved_memory_mb: int,
    ratios: Mapping[str, float],
    zone: str = DEFAULT_ZONE,
    aggregates: Sequence[str] = (),
    now: str,
) -> dict[str, Any]:
    """The full status of a Host."""
    enabled = bool(spec.get("enabled", True))
    forced_down = bool(spec.get("forcedDown", False))
    up = node is not None and node.ready and not forced_down
    if node is None:
        reason, message = "NodeMissing", "The Node of this host was deleted; its servers keep their placement."
    elif forced_down:
        reason, message = "ForcedDown", "An admin forced this host down (spec.forcedDown)."
    elif not node.ready:
        reason, message = "NodeNotReady", "The Node's Ready condition is not True."
    elif not enabled:
        reason, message = "Disabled", spec.get("disabledReason") or "An admin disabled this host (spec.enabled)."
    else:
        reason, message = "Available", "The host is up and enabled: new servers may be placed on it."
    conds = conditions.ready(
        previous,
        ok=up and enabled,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )
    result: dict[str, Any] = {
        "hypervisorHostname": node.name if node else previous.get("hypervisorHostname"),
        "hostIp": node.host_ip if node else previous.get("hostIp", ""),
        "state": "up" if up else "down",
        "status": "enabled" if enabled else "disabled",
        "availabilityZone": zone,
        "aggregates": sorted(aggregates),
        "vcpus": node.vcpus if node else previous.get("vcpus", 0),
        "memoryMb": node.memory_mb if node else previous.get("memoryMb", 0),
        "localGb": node.local_gb if node else previous.get("localGb", 0),
        "vcpusUsed": usage.vcpus,
        "memoryMbUsed": usage.memory_mb + reserved_memory_mb,
        "localGbUsed": usage.local_gb,
        "runningVms": len(usage.servers),
        "allocationRatios": dict(ratios),
        "servers": [{"namespace": ns, "name": n, "uid": uid} for ns, n, uid in sorted(usage.servers)],
        "conditions": conds,
    }
    if generation is not None:
        result["observedGeneration"] = generation
    return result
