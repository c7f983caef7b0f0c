"""A Nova task in flight: which action it belongs to, what it needs of the workload, and how the
server's status reads when it ends. Called by the planner (:mod:`.plan`).

An action starts with one status write (its first task_state, a history record and, for the
actions that remake the workload, a new workload revision). Every later event asks
:func:`in_flight` what the workload must look like; the backend makes it so; once
:func:`reached` says it does, :func:`finish` gives the status that ends the task. So a restart
at any moment resumes from the status alone.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from kubenova.backends.workload import Observation
from kubenova.nova.actions import EVENTS, RULES, Action, transition
from kubenova.nova.states import HARD_REBOOT, PowerState, TaskState, VmState
from kubenova.servers import history, volumes
from kubenova.servers.status import addresses, state_patch

REMAKES = frozenset(
    {
        Action.REBOOT,
        Action.REBOOT_HARD,
        Action.REBUILD,
        Action.EVACUATE,
        Action.RESIZE,
        Action.MIGRATE,
        Action.REVERT_RESIZE,
        Action.RESCUE,
        Action.UNRESCUE,
    }
)
"""Actions that replace the workload with a new one (a new revision)."""
MOVES = frozenset({Action.RESIZE, Action.MIGRATE})
"""Moves that keep the source host's claim until confirmed or reverted."""
BY_EVENT: Mapping[str, Action] = {name: a for a, name in EVENTS.items() if a is not Action.REBOOT_HARD}
CREATE = "create"


class Goal(enum.StrEnum):
    """What the workload must be doing for the task to end."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    ABSENT = "absent"


_GOALS = {
    PowerState.RUNNING: Goal.RUNNING,
    PowerState.CRASHED: Goal.RUNNING,
    PowerState.PAUSED: Goal.PAUSED,
    PowerState.SUSPENDED: Goal.PAUSED,  # KubeVirt keeps a suspended guest's memory by pausing it
    PowerState.SHUTDOWN: Goal.STOPPED,
    PowerState.NOSTATE: Goal.ABSENT,
}


@dataclasses.dataclass(frozen=True)
class InFlight:
    action: Action | None
    """None for a build."""
    task: TaskState
    vm_state: str
    """Where the server ends."""
    power: PowerState
    goal: Goal


def current_power(status: Mapping[str, Any]) -> PowerState:
    label = status.get("powerState") or "NOSTATE"
    return PowerState[label] if label in PowerState.__members__ else PowerState.NOSTATE


def action_of(status: Mapping[str, Any]) -> Action | None:
    """The action the task in flight belongs to (None: the build), from its history record."""
    record = history.open_record(status)
    name = record.get("action") if record else None
    task = status.get("taskState")
    if name == CREATE or (name is None and status.get("vmState") == VmState.BUILDING):
        return None
    action = BY_EVENT.get(name or "")
    if action is Action.REBOOT and task in HARD_REBOOT:
        return Action.REBOOT_HARD
    if action is None:  # no record (written by hand, or lost): the first action with this step
        action = next((a for a, r in RULES.items() if task in r.steps), None)
    return action


def in_flight(status: Mapping[str, Any]) -> InFlight | None:
    task = status.get("taskState")
    if not task:
        return None
    action = action_of(status)
    if action is None:
        return InFlight(None, TaskState(task), VmState.ACTIVE, PowerState.RUNNING, Goal.RUNNING)
    before = (status.get("migration") or {}).get("previousVmState")
    t = transition(action, status["vmState"], before_resize=before)
    power = t.power if t.power is not None else current_power(status)
    if action in MOVES:
        # A moved server keeps its power state; a stopped one is moved stopped.
        power = PowerState.SHUTDOWN if before == VmState.STOPPED else PowerState.RUNNING
    return InFlight(action, TaskState(task), t.vm_state, power, _GOALS[power])


def reached(goal: Goal, obs: Observation, revision: str | None) -> bool:
    """Whether the workload the backend observed is what the task needs."""
    current = obs.revision == revision or revision is None
    if goal is Goal.ABSENT:
        return not obs.exists
    if goal is Goal.STOPPED:
        return obs.power in ("SHUTDOWN", "NOSTATE") and (not obs.exists or current)
    if goal is Goal.PAUSED:
        return obs.power == "PAUSED" and current
    return obs.exists and obs.ready and obs.power == "RUNNING" and current


def revision(status: Mapping[str, Any]) -> str | None:
    rev: str | None = (status.get("workload") or {}).get("revision")
    return rev


def finish(
    status: Mapping[str, Any], flight: InFlight, obs: Observation, *, generation: int | None, now: str
) -> dict[str, Any]:
    """The status patch that ends the task: its end state, the closed history record, and what the
    action changes besides (a released claim, a finished migration, the launch time)."""
    patch = state_patch(
        status, vm_state=flight.vm_state, task_state=None, power=flight.power, generation=generation, now=now
    )
    if flight.goal in (Goal.RUNNING, Goal.PAUSED):
        # A VM's addresses come from its instance (the VMI watch writes them), not from the VM:
        # what the backend did not see now, the server keeps.
        patch["addresses"] = addresses(obs) or list(status.get("addresses") or [])
    else:
        patch["addresses"] = []
    patch["actions"] = history.finish_action(status, now=now)
    patch["fault"] = None
    migration = dict(status.get("migration") or {})
    if flight.action is None and not status.get("launchedAt"):
        patch["launchedAt"] = now
    elif flight.action is Action.SHELVE_OFFLOAD:
        # Offloading gives the host back: the server keeps no claim and no host (Nova's shelve_offload).
        patch |= {"claim": None, "host": None, "hypervisorHostname": None, "workload": None}
    elif flight.action in MOVES:
        patch["migration"] = migration | {"status": "finished"}
    elif flight.action is Action.EVACUATE:
        patch["migration"] = migration | {"status": "done"}
    elif flight.action is Action.REVERT_RESIZE:
        patch["migration"] = migration | {"status": "reverted", "sourceClaim": None, "sourceFlavor": None}
    elif flight.action in volumes.ACTIONS:
        patch |= volumes.fields(patch, volumes.finish(status, flight.action), generation=generation, now=now)
    if status.get("backend") != "kubevirt" and (settled := volumes.settle_pending(status)) is not None:
        # A container's Pod made again (or gone): the volume changes that waited for it are on it now.
        patch |= volumes.fields(patch, settled, generation=generation, now=now)
    return patch


def confirm(status: Mapping[str, Any], *, generation: int | None, now: str) -> dict[str, Any]:
    """Confirming a resize or migration: back to the state before it, the source's claim dropped."""
    migration = dict(status.get("migration") or {})
    before = migration.get("previousVmState") or VmState.ACTIVE
    power = PowerState.SHUTDOWN if before == VmState.STOPPED else PowerState.RUNNING
    patch = state_patch(status, vm_state=before, task_state=None, power=power, generation=generation, now=now)
    patch["migration"] = migration | {"status": "confirmed", "sourceClaim": None, "sourceFlavor": None}
    patch["fault"] = None
    return patch


def server_action_status(
    phase: str, *, request_id: str | None, error: str | None = None, now: str, start: bool = False
) -> dict[str, Any]:
    """A ServerAction's status: Running when its action starts, Succeeded or Failed when it ends
    (Ready then, whichever way it ended, so ``kubectl wait`` returns)."""
    ended = phase in ("Succeeded", "Failed")
    patch: dict[str, Any] = {"phase": phase, "requestId": request_id}
    patch["startTime" if start else "finishTime"] = now
    if error:
        patch["message"] = error
    elif ended:
        patch["message"] = "Done."
    patch["conditions"] = [
        {
            "type": "Ready",
            "status": "True" if ended else "False",
            "reason": phase,
            "message": error or ("Done." if ended else "In progress."),
            "lastTransitionTime": now,
        }
    ]
    return patch


def settled_from_record(record: Mapping[str, Any], *, now: str) -> dict[str, Any] | None:
    """The end of a ServerAction whose action's history ``record`` shows it finished, or None
    while it runs. For an end the Server's status has but the ServerAction's lacks: the operator
    killed (or kube-apiserver gone) between the two writes would leave it Running for good."""
    if not record.get("finishTime"):
        return None
    error = (record.get("message") or "Error") if record.get("result") == "Error" else None
    return server_action_status(
        "Failed" if error else "Succeeded", request_id=record.get("requestId"), error=error, now=now
    )


def event_reason(action: Action) -> str:
    """An Event reason for a finished action: Stopped, Rebooted, Resized..."""
    return {
        Action.STOP: "Stopped",
        Action.START: "Started",
        Action.REBOOT: "Rebooted",
        Action.REBOOT_HARD: "Rebooted",
        Action.PAUSE: "Paused",
        Action.UNPAUSE: "Unpaused",
        Action.SUSPEND: "Suspended",
        Action.RESUME: "Resumed",
        Action.RESIZE: "Resized",
        Action.MIGRATE: "Migrated",
        Action.REVERT_RESIZE: "ResizeReverted",
        Action.REBUILD: "Rebuilt",
        Action.EVACUATE: "Evacuated",
        Action.SHELVE: "Shelved",
        Action.SHELVE_OFFLOAD: "Offloaded",
        Action.UNSHELVE: "Unshelved",
        Action.RESCUE: "Rescued",
        Action.UNRESCUE: "Unrescued",
        Action.ATTACH_VOLUME: "VolumeAttached",
        Action.DETACH_VOLUME: "VolumeDetached",
    }.get(action, action.value.title().replace("_", ""))
