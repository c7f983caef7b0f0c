"""What a Server's spec asks for next: the declarative side of the lifecycle, called by the
planner's ``follow_spec`` (:mod:`.plan`).

Given the spec, the status and the maintenance an admin asked for on hosts, :func:`wanted` names
the one Nova action to start now, or says in words what the server waits for (a confirmation,
the user), or None when the server is as declared. Precedence, first match wins: a resize or
migration waiting for confirmation (a volume change still goes on meanwhile); the host's
maintenance or a drain (a running VM is moved live, anything else cold); ERROR (only a rebuild
helps);
``state`` and ``rescue`` by Nova's allowed path; a new image (rebuild); a new flavor (resize);
then the volumes (a detach, then an attach: :func:`kubenova.servers.volumes.next_change`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubenova.nova import planning
from kubenova.nova.actions import EVENTS, Action
from kubenova.nova.states import VmState
from kubenova.servers import volumes

Maintenance = Callable[[str | None], str | None]
"""The maintenance asked for on a host (migrate, stop), or None."""


def wanted(
    spec: Mapping[str, Any], status: Mapping[str, Any], maintenance: Maintenance, *, evacuating: bool = False
) -> Action | str | None:
    """The action the spec calls for now; a message if it waits on someone; None if settled.
    ``evacuating``: KubeVirt asks for the server's instance to leave its node (a drain)."""
    vm = status["vmState"]
    m = status.get("migration") or {}
    if vm == VmState.RESIZED:
        # A move the admin asked for by putting the source host in maintenance needs no confirmation.
        emptying = m.get("kind") == "migration" and maintenance(m.get("sourceHost")) == "migrate"
        if spec.get("autoConfirmResize") or emptying:
            return Action.CONFIRM_RESIZE
        # Nova attaches and detaches volumes in vm_state resized too; a confirm or revert keeps them.
        change = volumes.next_change(spec, status)
        if change:
            return change[0]
        return f"The {m.get('kind', 'resize')} waits for a confirmResize or revertResize ServerAction."
    host_maintenance = maintenance(status.get("host"))
    if host_maintenance == "migrate" or evacuating:
        # A running VM moves live (a drain's eviction can only be answered so); the rest cold.
        if status.get("backend") == "kubevirt" and vm in (VmState.ACTIVE, VmState.PAUSED):
            return Action.LIVE_MIGRATE
        if host_maintenance == "migrate" and vm in (VmState.ACTIVE, VmState.STOPPED):
            return Action.MIGRATE
    image = spec.get("image")
    image_changed = bool(image) and image != status.get("image")
    if vm == VmState.ERROR:
        if image_changed and status.get("claim"):
            return Action.REBUILD
        fault = (status.get("fault") or {}).get("message", "")
        return f"The server is in ERROR ({fault}): delete it, or rebuild it with a new image if it has a host."
    state = spec.get("state", "active")
    if host_maintenance == "stop" and state == "active":
        state = "stopped"  # until the admin ends the maintenance; then the spec's state again
    step = planning.next_action(vm_state=vm, task_state=None, state=state, rescue=bool(spec.get("rescue")))
    if step is not None:
        return step
    if image_changed:
        return Action.REBUILD
    flavor = spec.get("flavor")
    if flavor and flavor != (status.get("flavor") or {}).get("originalName"):
        if m.get("status") == "reverted" and m.get("newFlavor") == flavor:  # not again
            old = m.get("oldFlavor")
            return f"The resize to {flavor} was reverted; set spec.flavor back to {old}, or to another flavor."
        return Action.RESIZE
    change = volumes.next_change(spec, status)
    return change[0] if change else None


def failed_already(action: Action, status: Mapping[str, Any], generation: int | None) -> bool:
    """Whether ``action`` is the last one taken, it failed, and the spec has not changed since:
    then it is not tried again until the spec changes (no retry loop against a backend's refusal)."""
    last = (status.get("actions") or [{}])[-1]
    return (
        last.get("action") == EVENTS[action]
        and last.get("result") == "Error"
        and status.get("observedGeneration") == generation
    )
