"""A Server's lifecycle as pure steps: given what the operator knows (the Server, its flavor,
the scheduler's decision, what the backend observed), the status to write next.

The Server handler is level-triggered: every event re-reads the Server and takes the one step
its state calls for, so a restart at any moment resumes where the status says it was. Each
function here returns a status patch (JSON merge patch of ``status``); None clears a field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kubenova import conditions, zones
from kubenova.backends.workload import Flavor, Observation, PlacedServer, user_data_secret
from kubenova.nova import faults
from kubenova.nova.states import PowerState, TaskState, VmState, api_status
from kubenova.scheduling.claims import Claim
from kubenova.scheduling.model import RequestSpec

HISTORY = 20
"""How many action records a Server keeps (openstack server event list)."""


def state_patch(
    previous: Mapping[str, Any],
    *,
    vm_state: str,
    task_state: str | None,
    power: PowerState | None = None,
    generation: int | None,
    now: str,
    ready_reason: str | None = None,
    ready_message: str = "",
) -> dict[str, Any]:
    """vmState, taskState, powerState and Nova's status string, with the Ready condition."""
    patch: dict[str, Any] = {
        "vmState": vm_state,
        "taskState": task_state,
        "status": api_status(vm_state, task_state),
        "updated": now,
    }
    if power is not None:
        patch["powerState"] = power.label
        patch["powerStateCode"] = int(power)
    if generation is not None:
        patch["observedGeneration"] = generation
    settled = task_state is None and vm_state not in (VmState.BUILDING, VmState.ERROR)
    reason = ready_reason or ("Settled" if settled else (task_state or vm_state).title().replace("_", ""))
    message = ready_message or f"Nova status {patch['status']} (vm_state {vm_state}, task_state {task_state})."
    patch["conditions"] = conditions.set_condition(
        previous.get("conditions", []),
        type="Ready",
        status=settled,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )
    return patch


def fail(previous: Mapping[str, Any], fault: faults.Fault, *, generation: int | None, now: str) -> dict[str, Any]:
    """ERROR with a fault, and the Ready condition saying why."""
    patch = state_patch(
        previous,
        vm_state=VmState.ERROR,
        task_state=None,
        generation=generation,
        now=now,
        ready_reason="Error",
        ready_message=fault.message,
    )
    patch["fault"] = fault.to_status()
    return patch


def embedded_flavor(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
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


def flavor_from_status(copy: Mapping[str, Any]) -> Flavor:
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


def claim_status(claim: Claim) -> dict[str, Any]:
    return {"host": claim.host, "vcpus": claim.vcpus, "memoryMb": claim.memory_mb, "diskGb": claim.disk_gb}


SOURCE = "@source"
"""Suffix of the ledger key under which a resized or migrated server holds its source host."""


def claims_of(status: Mapping[str, Any]) -> dict[str, Claim]:
    """The claims a server's status records, by key suffix: its own ("") and, until a move is
    confirmed or reverted, the source host's (:data:`SOURCE`), as Nova's Placement keeps both."""
    out: dict[str, Claim] = {}
    if (claim := claim_from_status(status)) is not None:
        out[""] = claim
    source = (status.get("migration") or {}).get("sourceClaim")
    if source and (claim := claim_from_status({"claim": source})) is not None:
        out[SOURCE] = claim
    return out


def claim_from_status(status: Mapping[str, Any]) -> Claim | None:
    c = status.get("claim")
    if not c or not c.get("host"):
        return None
    return Claim(c["host"], int(c["vcpus"]), int(c["memoryMb"]), int(c["diskGb"]))


def backend_of(spec: Mapping[str, Any], flavor: Mapping[str, Any], default: str) -> str:
    """The Server's spec, else the flavor's kubenova:backend extra spec, else the operator's default."""
    return str(spec.get("backend") or flavor.get("extraSpecs", {}).get("kubenova:backend") or default)


def placed(
    body: Mapping[str, Any], status: Mapping[str, Any], *, public_key: str | None, running: bool
) -> PlacedServer:
    """The backend's input, from the Server and what its status recorded: the flavor, image and
    host the last action settled on (not the spec, which may ask for a change not yet made)."""
    meta, spec = body["metadata"], body.get("spec", {})
    rescued = (status.get("vmState") == VmState.RESCUED and status.get("taskState") != TaskState.UNRESCUING) or (
        status.get("taskState") == TaskState.RESCUING
    )
    return PlacedServer(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        flavor=flavor_from_status(status["flavor"]),
        host=status["claim"]["host"],
        image=status.get("image") or spec.get("image"),
        boot_volume=(spec.get("bootVolume") or {}).get("claimName"),
        hostname=spec.get("hostname"),
        availability_zone=status.get("availabilityZone") or zones.DEFAULT_ZONE,
        key_name=spec.get("keyName"),
        public_key=public_key,
        metadata=spec.get("metadata", {}),
        running=running,
        revision=(status.get("workload") or {}).get("revision"),
        user_data_secret=user_data_secret(meta["name"]) if spec.get("userData") else None,
        rescue_image=(spec.get("rescueImage") or status.get("image") or spec.get("image")) if rescued else None,
    )


def addresses(observation: Observation) -> list[dict[str, Any]]:
    out = []
    for a in observation.addresses:
        entry: dict[str, Any] = {"network": a.network, "addr": a.addr, "version": a.version, "type": "fixed"}
        if a.mac:
            entry["macAddr"] = a.mac
        out.append(entry)
    return out


def start_action(
    previous: Mapping[str, Any],
    action: str,
    *,
    now: str,
    server_action: str | None = None,
    request_id: str | None = None,
) -> list[dict[str, Any]]:
    """The action history with a new record (request id, action, start) last."""
    record = {"requestId": request_id or f"req-{uuid.uuid4()}", "action": action, "startTime": now}
    if server_action:
        record["serverAction"] = server_action
    return [*previous.get("actions", []), record][-HISTORY:]


def finish_action(previous: Mapping[str, Any], *, now: str, error: str | None = None) -> list[dict[str, Any]] | None:
    """The history with its newest unfinished record closed, or None if there is none."""
    actions = [dict(a) for a in previous.get("actions", [])]
    if not actions or actions[-1].get("finishTime"):
        return None
    actions[-1]["finishTime"] = now
    actions[-1]["result"] = "Error" if error else "Success"
    if error:
        actions[-1]["message"] = error
    return actions


SPAWNED = {
    TaskState.SPAWNING: (VmState.ACTIVE, PowerState.RUNNING),
    TaskState.POWERING_ON: (VmState.ACTIVE, PowerState.RUNNING),
    TaskState.POWERING_OFF: (VmState.STOPPED, PowerState.SHUTDOWN),
}
