"""What each task in flight needs of the workload, when it is done, and how it ends."""

from __future__ import annotations

from typing import Any

import pytest

from kubenova.backends.workload import Observation
from kubenova.nova.actions import Action
from kubenova.nova.states import PowerState, TaskState, VmState
from kubenova.servers import tasks
from kubenova.servers.tasks import Goal

NOW = "2026-11-24T12:00:00Z"
CLAIM = {"host": "compute-0", "vcpus": 1, "memoryMb": 1024, "diskGb": 5}


def status(vm: str, task: str | None, action: str, power: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    record = {"requestId": "req-1", "action": action, "startTime": NOW}
    return {"vmState": vm, "taskState": task, "powerState": power, "actions": [record], **extra}


@pytest.mark.parametrize(
    ("vm", "task", "action", "power", "expected"),
    [
        (VmState.BUILDING, TaskState.SPAWNING, "create", "NOSTATE", (None, VmState.ACTIVE, Goal.RUNNING)),
        (VmState.ACTIVE, TaskState.POWERING_OFF, "stop", "RUNNING", (Action.STOP, VmState.STOPPED, Goal.STOPPED)),
        (VmState.STOPPED, TaskState.POWERING_ON, "start", "SHUTDOWN", (Action.START, VmState.ACTIVE, Goal.RUNNING)),
        (VmState.ACTIVE, TaskState.REBOOTING, "reboot", "RUNNING", (Action.REBOOT, VmState.ACTIVE, Goal.RUNNING)),
        (
            VmState.ACTIVE,
            TaskState.REBOOTING_HARD,
            "reboot",
            "RUNNING",
            (Action.REBOOT_HARD, VmState.ACTIVE, Goal.RUNNING),
        ),
        (VmState.ACTIVE, TaskState.PAUSING, "pause", "RUNNING", (Action.PAUSE, VmState.PAUSED, Goal.PAUSED)),
        (VmState.ACTIVE, TaskState.SUSPENDING, "suspend", "RUNNING", (Action.SUSPEND, VmState.SUSPENDED, Goal.PAUSED)),
        (VmState.ACTIVE, TaskState.SHELVING, "shelve", "RUNNING", (Action.SHELVE, VmState.SHELVED, Goal.STOPPED)),
        (
            VmState.SHELVED,
            TaskState.SHELVING_OFFLOADING,
            "shelveOffload",
            "SHUTDOWN",
            (Action.SHELVE_OFFLOAD, VmState.SHELVED_OFFLOADED, Goal.ABSENT),
        ),
        (
            VmState.SHELVED_OFFLOADED,
            TaskState.UNSHELVING,
            "unshelve",
            "NOSTATE",
            (Action.UNSHELVE, VmState.ACTIVE, Goal.RUNNING),
        ),
        (VmState.STOPPED, TaskState.REBUILDING, "rebuild", "SHUTDOWN", (Action.REBUILD, VmState.STOPPED, Goal.STOPPED)),
        (VmState.ACTIVE, TaskState.RESCUING, "rescue", "RUNNING", (Action.RESCUE, VmState.RESCUED, Goal.RUNNING)),
    ],
)
def test_a_task_in_flight_knows_its_action_end_and_goal(
    vm: str, task: str, action: str, power: str, expected: tuple[Action | None, str, Goal]
) -> None:
    flight = tasks.in_flight(status(vm, task, action, power))
    assert flight is not None
    assert (flight.action, flight.vm_state, flight.goal) == expected


@pytest.mark.parametrize(("before", "goal"), [(VmState.ACTIVE, Goal.RUNNING), (VmState.STOPPED, Goal.STOPPED)])
def test_a_resize_keeps_the_power_state_it_started_with(before: str, goal: Goal) -> None:
    s = status(before, TaskState.RESIZE_MIGRATING, "resize", migration={"previousVmState": before})
    flight = tasks.in_flight(s)
    assert flight is not None
    assert (flight.vm_state, flight.goal) == (VmState.RESIZED, goal)


def test_a_revert_returns_to_the_state_before_the_resize() -> None:
    s = status(VmState.RESIZED, TaskState.RESIZE_REVERTING, "revertResize", migration={"previousVmState": "stopped"})
    flight = tasks.in_flight(s)
    assert flight is not None
    assert (flight.vm_state, flight.power, flight.goal) == (VmState.STOPPED, PowerState.SHUTDOWN, Goal.STOPPED)


def test_no_task_is_no_flight() -> None:
    assert tasks.in_flight({"vmState": "active", "taskState": None}) is None


RUNNING = Observation(exists=True, power="RUNNING", ready=True, revision="req-2")


@pytest.mark.parametrize(
    ("goal", "obs", "revision", "done"),
    [
        (Goal.RUNNING, RUNNING, "req-2", True),
        (Goal.RUNNING, RUNNING, "req-3", False),  # the old boot still runs: a remake is under way
        (Goal.RUNNING, Observation(exists=True, power="RUNNING", ready=False, revision="req-2"), "req-2", False),
        (Goal.STOPPED, Observation(exists=False), "req-2", True),  # a stopped container has no Pod
        (Goal.STOPPED, Observation(exists=True, power="SHUTDOWN", revision="req-1"), "req-2", False),
        (Goal.PAUSED, Observation(exists=True, power="PAUSED", revision="req-2"), "req-2", True),
        (Goal.ABSENT, Observation(exists=True, power="SHUTDOWN"), None, False),
        (Goal.ABSENT, Observation(exists=False), None, True),
    ],
)
def test_reached(goal: Goal, obs: Observation, revision: str | None, done: bool) -> None:
    assert tasks.reached(goal, obs, revision) is done


def test_finishing_an_offload_gives_the_host_back() -> None:
    s = status(
        VmState.SHELVED, TaskState.SHELVING_OFFLOADING, "shelveOffload", "SHUTDOWN", claim=CLAIM, host="compute-0"
    )
    flight = tasks.in_flight(s)
    assert flight is not None
    patch = tasks.finish(s, flight, Observation(exists=False), generation=3, now=NOW)
    assert (patch["claim"], patch["host"], patch["status"]) == (None, None, "SHELVED_OFFLOADED")
    assert patch["actions"][-1]["result"] == "Success"
    assert patch["powerState"] == "NOSTATE"


def test_finishing_a_resize_waits_for_confirmation_and_confirming_drops_the_source() -> None:
    migration = {"previousVmState": "active", "sourceClaim": CLAIM, "status": "migrating"}
    s = status(VmState.ACTIVE, TaskState.RESIZE_MIGRATING, "resize", migration=migration)
    flight = tasks.in_flight(s)
    assert flight is not None
    patch = tasks.finish(s, flight, RUNNING, generation=2, now=NOW)
    assert (patch["status"], patch["migration"]["status"]) == ("VERIFY_RESIZE", "finished")
    assert patch["migration"]["sourceClaim"] == CLAIM  # held until confirmed or reverted
    confirmed = tasks.confirm({**s, **patch}, generation=2, now=NOW)
    assert (confirmed["status"], confirmed["migration"]["sourceClaim"]) == ("ACTIVE", None)


def test_a_server_action_reads_as_running_then_done() -> None:
    running = tasks.server_action_status("Running", request_id="req-1", now=NOW, start=True)
    assert (running["phase"], running["startTime"], running["conditions"][0]["status"]) == ("Running", NOW, "False")
    failed = tasks.server_action_status("Failed", request_id="req-1", error="no", now=NOW)
    assert (failed["phase"], failed["message"], failed["conditions"][0]["status"]) == ("Failed", "no", "True")
