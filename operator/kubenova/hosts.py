"""What a Host's status says, from its Node and its spec: Nova's os-hypervisors and os-services.

Pure; called by :mod:`kubenova.handlers.hosts`, which feeds it facts from kopf indexes and
writes the result only when it differs from what the Host already shows. The shapes of those
indexes' values (:class:`NodeFacts`, :class:`HostBody`, :class:`ServerOnHost`) are declared here,
so the handler and this module read them by name.

Nova's vocabulary is kept: ``state`` is up/down (the Node's Ready condition, unless the admin
forced the host down), ``status`` is enabled/disabled (``spec.enabled``). As in os-hypervisors
before microversion 2.88, ``memoryMbUsed`` counts the host's reserved memory as used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from kubenova import conditions, labels, quantities
from kubenova.scheduling.claims import Claim
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
    architecture: str | None = None
    """The Node's ``kubernetes.io/arch`` label (GOARCH: amd64, arm64...)."""

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
            architecture=meta.get("labels", {}).get("kubernetes.io/arch"),
        )


class HostBody(NamedTuple):
    """What a Host object says, as the ``host_bodies`` index keeps it."""

    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    generation: int | None


class ServerOnHost(NamedTuple):
    """What one server holds on one host, as the ``server_facts`` index keeps it
    (:mod:`kubenova.handlers.server_index`)."""

    namespace: str
    name: str
    uid: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    running: bool = False
    """The server runs, or a task is under way (:func:`running`): what a stop maintenance waits for."""


STOPPED = ("stopped", "shelved", "shelved_offloaded", "error")
"""vm_states in which a server runs nothing (an ERROR one is left as it is by a maintenance)."""


def running(server_status: Mapping[str, Any]) -> bool:
    """Whether a server runs, or a task is under way on it (it may be about to run)."""
    return bool(server_status.get("taskState")) or server_status.get("vmState") not in STOPPED


def held_on_hosts(
    namespace: str, name: str, uid: str, claims: Iterable[Claim], *, runs: bool = False
) -> dict[str, ServerOnHost]:
    """What a server holds on each host, from its claims (``runs``: see :func:`running`).

    A server being resized or moved holds its source host too until the move is confirmed, and a
    same-host resize holds both claims on one host: they add up, as Placement counts them.
    """
    out: dict[str, ServerOnHost] = {}
    for c in claims:
        held = out.get(c.host)
        if held is None:
            out[c.host] = ServerOnHost(namespace, name, uid, c.vcpus, c.memory_mb, c.disk_gb, runs)
        else:
            out[c.host] = held._replace(
                vcpus=held.vcpus + c.vcpus, memory_mb=held.memory_mb + c.memory_mb, disk_gb=held.disk_gb + c.disk_gb
            )
    return out


@dataclasses.dataclass(frozen=True)
class Usage:
    """What the servers placed on a host consume (from the scheduler's claims)."""

    vcpus: int = 0
    memory_mb: int = 0
    local_gb: int = 0
    servers: tuple[tuple[str, str, str], ...] = ()
    """(namespace, name, uid) of each server on the host."""
    running: int = 0
    """How many of them run (or are busy)."""

    @classmethod
    def of(cls, servers: Iterable[ServerOnHost]) -> Usage:
        """The sums of what ``servers`` hold on one host."""
        held = list(servers)
        return cls(
            vcpus=sum(s.vcpus for s in held),
            memory_mb=sum(s.memory_mb for s in held),
            local_gb=sum(s.disk_gb for s in held),
            servers=tuple((s.namespace, s.name, s.uid) for s in held),
            running=sum(s.running for s in held),
        )


def maintenance(spec: Mapping[str, Any], usage: Usage) -> dict[str, Any] | None:
    """How far the maintenance the admin asked for (``spec.maintenance``) has come, or None when
    none is asked for: ``migrate`` is complete once no server is placed on the host (no claim,
    a move's source claim included), ``stop`` once none of them runs or is busy. A server the
    maintenance cannot move or stop (shelved, in ERROR) is left where it is and counted, so that
    the admin sees what is in the way."""
    mode = spec.get("maintenance")
    if not mode:
        return None
    left = len(usage.servers) if mode == "migrate" else usage.running
    return {"mode": mode, "state": "in-progress" if left else "complete", "serversLeft": left}


def allocation_ratios(spec: Mapping[str, Any], *, cpu: float, ram: float, disk: float) -> dict[str, float]:
    """The ratios a Host reports: its ``spec.allocationRatios`` over the operator's defaults
    (Nova's ``cpu/ram/disk_allocation_ratio``)."""
    return {"cpu": cpu, "ram": ram, "disk": disk, **spec.get("allocationRatios", {})}


def reserved_memory_mb(spec: Mapping[str, Any], default: int) -> int:
    """The memory the host keeps for itself: ``spec.reserved.memoryMb``, else Nova's
    ``reserved_host_memory_mb`` as the operator is configured."""
    return int(spec.get("reserved", {}).get("memoryMb", default))


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
    report_usage: bool = True,
) -> dict[str, Any]:
    """The full status of a Host. ``report_usage`` False: the usage fields stay as ``previous``
    reported them (a usage write is already due: the Node's heartbeats and the Host's own
    events would otherwise write every change of usage at once)."""
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
        "maintenance": maintenance(spec, usage),  # None: merge-patched away
        "conditions": conds,
    }
    if not report_usage:
        result.update({k: previous[k] for k in USAGE_FIELDS if k in previous})
    if generation is not None:
        result["observedGeneration"] = generation
    return result


USAGE_FIELDS = ("vcpusUsed", "memoryMbUsed", "localGbUsed", "runningVms", "servers")
"""What a Host's status reports of its servers' usage (its maintenance's progress is reported
at once)."""
