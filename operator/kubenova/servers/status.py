"""A Server's Nova state as status fields: vm_state, task_state, power state, Nova's status
string and the Ready condition (:func:`state_patch`), ERROR with a fault (:func:`fail`), and
the Scheduled and Synced conditions. Called by the planner's phases (:mod:`.plan`, :mod:`.tasks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova import conditions
from kubenova.backends.workload import Observation
from kubenova.nova import faults
from kubenova.nova.states import PowerState, VmState, api_status
from kubenova.servers.bodies import Patch


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
) -> Patch:
    """vmState, taskState, powerState and Nova's status string, with the Ready condition."""
    patch: Patch = {
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
    patch["conditions"] = conditions.ready(
        previous, ok=settled, reason=reason, message=message, generation=generation, now=now
    )
    return patch


def fail(previous: Mapping[str, Any], fault: faults.Fault, *, generation: int | None, now: str) -> Patch:
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


def scheduled(
    conds: list[dict[str, Any]], ok: bool, message: str, *, generation: int | None, now: str
) -> list[dict[str, Any]]:
    """The Scheduled condition: placed, or Nova's NoValidHost."""
    return conditions.set_condition(
        conds,
        type="Scheduled",
        status=ok,
        reason="Scheduled" if ok else "NoValidHost",
        message=message,
        generation=generation,
        now=now,
    )


def synced(
    previous: Mapping[str, Any], ok: bool, reason: str, message: str, *, generation: int | None, now: str
) -> list[dict[str, Any]]:
    """The Synced condition: whether the server is as its spec declares, or why not."""
    return conditions.set_condition(
        previous.get("conditions", []),
        type="Synced",
        status=ok,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )


def addresses(observation: Observation) -> list[dict[str, Any]]:
    """The server's addresses (Nova's ``addresses``), from what the backend observed."""
    out = []
    for a in observation.addresses:
        entry: dict[str, Any] = {"network": a.network, "addr": a.addr, "version": a.version, "type": "fixed"}
        if a.mac:
            entry["macAddr"] = a.mac
        out.append(entry)
    return out
