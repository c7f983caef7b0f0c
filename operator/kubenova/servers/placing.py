"""Where a Server goes and what it runs as: the flavor copy it keeps, the scheduler's request
and decision for it, the status fields a placement records, and the placed server a backend
renders. Called by the planner (:mod:`.plan`, :mod:`.moves`); every decision runs under the
scheduler's lock, which the executor holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova import backends, images, metrics, zones
from kubenova.backends import consoles, networks
from kubenova.backends.workload import Flavor, PlacedServer, user_data_secret
from kubenova.nova.states import TaskState, VmState
from kubenova.scheduling.claims import Claim, Ledger
from kubenova.scheduling.model import GroupSpec, RequestSpec
from kubenova.scheduling.scheduler import Chosen, NoValidHost, choose_and_claim
from kubenova.servers import claims, volumes
from kubenova.servers.bodies import FlavorCopy, Patch, ServerStatus, WorkloadRef
from kubenova.servers.view import Facts, Server


def embedded_flavor(name: str, spec: Mapping[str, Any]) -> FlavorCopy:
    """The copy of a flavor a Server keeps (Nova embeds it since 2.47)."""
    return {
        "originalName": name,
        "vcpus": int(spec["vcpus"]),
        "ram": int(spec["ram"]),
        "disk": int(spec.get("disk", 0)),
        "ephemeral": int(spec.get("ephemeral", 0)),
        "swap": int(spec.get("swap", 0)),
        "extraSpecs": dict(spec.get("extraSpecs", {})),
    }


def flavor_from_status(copy: FlavorCopy) -> Flavor:
    return Flavor(
        name=copy["originalName"],
        vcpus=copy["vcpus"],
        ram=copy["ram"],
        disk=copy.get("disk", 0),
        ephemeral=copy.get("ephemeral", 0),
        swap=copy.get("swap", 0),
        extra_specs=copy.get("extraSpecs", {}),
    )


def disk_gb(flavor: Mapping[str, Any]) -> int:
    """Disk a flavor claims, in GiB: root plus ephemeral plus swap rounded up (Placement's DISK_GB)."""
    swap_gb = -(-int(flavor.get("swap", 0)) // 1024)
    return int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0)) + swap_gb


def request_spec(
    key: str, namespace: str, spec: Mapping[str, Any], flavor: Mapping[str, Any], **hints: Any
) -> RequestSpec:
    """What the scheduler needs to place a server of ``flavor`` (an embedded flavor copy)."""
    return RequestSpec(
        key=key,
        namespace=namespace,
        vcpus=int(flavor["vcpus"]),
        memory_mb=int(flavor["ram"]),
        disk_gb=disk_gb(flavor),
        extra_specs=flavor.get("extraSpecs", {}),
        zone=spec.get("availabilityZone"),
        **hints,
    )


def backend_of(spec: Mapping[str, Any], flavor: Mapping[str, Any], default: str) -> str:
    """The Server's spec, else the flavor's kubenova:backend extra spec, else the operator's default."""
    return str(spec.get("backend") or flavor.get("extraSpecs", {}).get("kubenova:backend") or default)


def workload_ref(server: Server, revision: str | None) -> WorkloadRef:
    """The workload a status names: its kind (by the server's backend), name and revision."""
    backend = backends.of(server.status.get("backend"))
    return {"apiVersion": backend.API_VERSION, "kind": backend.KIND, "name": server.name, "revision": revision}


def placed_on(server: Server, facts: Facts, claim: Claim, *, revision: str | None) -> Patch:
    """The status fields of a placement on ``claim``'s host."""
    return {
        "claim": claims.to_status(claim),
        "host": claim.host,
        "hypervisorHostname": claim.host,
        "availabilityZone": facts.zone(claim.host),
        "workload": workload_ref(server, revision),
        "console": consoles.status(backends.of(server.status.get("backend")).NAME, server.namespace, server.name),
    }


@metrics.scheduling_decision
def choose(
    server: Server,
    facts: Facts,
    ledger: Ledger,
    flavor: Mapping[str, Any],
    *,
    force_host: str | None = None,
    ignore: frozenset[str] = frozenset(),
) -> Chosen | NoValidHost:
    """The scheduler's decision for ``server`` at ``flavor``; a chosen host is claimed in ``ledger``."""
    hints = server.spec.get("schedulerHints") or {}
    hosts = facts.hosts()
    request = request_spec(
        server.key,
        server.namespace,
        server.spec,
        flavor,
        group=group_of(server, facts, hints.get("group"), ledger),
        same_host=hosts_of(server, hints.get("sameHost", []), ledger),
        different_host=hosts_of(server, hints.get("differentHost", []), ledger),
        force_host=force_host,
        ignore_hosts=ignore,
        image_properties=(server.status.get("imageSource") or {}).get("properties") or {},
    )
    return choose_and_claim(request, hosts, ledger)


def hosts_of(server: Server, names: list[str], ledger: Ledger) -> frozenset[str]:
    """The hosts the named servers (of the same namespace) are claimed on."""
    return frozenset(c.host for n in names if (c := ledger.get(f"{server.namespace}/{n}")))


def group_of(server: Server, facts: Facts, name: str | None, ledger: Ledger) -> GroupSpec | None:
    """The server group's policy and where its other members are, for the group filters."""
    if not name:
        return None
    group = facts.group(server.namespace, name)
    if group is None:
        return None
    members = [m for m in facts.group_members(server.namespace, name) if m != server.name]
    hosts: dict[str, int] = {}
    for m in members:
        claim = ledger.get(f"{server.namespace}/{m}")
        if claim:
            hosts[claim.host] = hosts.get(claim.host, 0) + 1
    return GroupSpec(name, group["policy"], hosts, int(group.get("maxServerPerHost") or 1))


def placed(server: Server, *, public_key: str | None, running: bool) -> PlacedServer:
    """The backend's input, from the Server and what its status recorded: the flavor, image and
    host the last action settled on (not the spec, which may ask for a change not yet made)."""
    spec, status = server.spec, server.status
    rescued = (status.get("vmState") == VmState.RESCUED and status.get("taskState") != TaskState.UNRESCUING) or (
        status.get("taskState") == TaskState.RESCUING
    )
    claim, ref = status.get("claim"), status.get("workload")
    assert claim is not None  # a workload is made only for a placed server
    return PlacedServer(
        name=server.name,
        namespace=server.namespace,
        uid=server.uid,
        flavor=flavor_from_status(status["flavor"]),
        host=claim["host"],
        image=status.get("image") or spec.get("image"),
        boot_volume=(spec.get("bootVolume") or {}).get("claimName"),
        hostname=spec.get("hostname"),
        availability_zone=status.get("availabilityZone") or zones.DEFAULT_ZONE,
        key_name=spec.get("keyName"),
        public_key=public_key,
        metadata=spec.get("metadata", {}),
        running=running,
        revision=ref["revision"] if ref else None,
        user_data_secret=user_data_secret(server.name) if spec.get("userData") else None,
        rescue_image=(spec.get("rescueImage") or _bootable(status) or spec.get("image")) if rescued else None,
        image_source=status.get("imageSource"),
        volumes=volumes.on_workload(status),
        networks=networks.requested(spec.get("networks") or [], server.namespace),
        security_groups=tuple(spec.get("securityGroups", ["default"])),
    )


def _bootable(status: ServerStatus) -> str | None:
    """The reference a rescue boots: the Image's containerDisk, or the plain reference."""
    source = status.get("imageSource")
    if source:
        return images.container_image({"spec": source})
    return status.get("image")
