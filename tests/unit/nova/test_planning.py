"""The planner takes only steps Nova allows toward the declared state."""

from __future__ import annotations

import pytest

from kubenova.nova.actions import check, transition
from kubenova.nova.planning import TARGETS, next_action, path, target_vm_state

STARTS = ["active", "stopped", "paused", "suspended", "shelved", "shelved_offloaded", "rescued"]


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("target", [*TARGETS, "rescued"])
def test_every_path_is_allowed_step_by_step_and_reaches_the_target(start: str, target: str) -> None:
    state = start
    for action in path(start, target):
        check(action, uuid="u", vm_state=state, task_state=None, locked=False)
        state = transition(action, state).vm_state
    assert state == target


def test_paths_take_novas_detours() -> None:
    assert [a.value for a in path("paused", "stopped")] == ["unpause", "stop"]
    assert [a.value for a in path("suspended", "stopped")] == ["resume", "stop"]
    assert [a.value for a in path("active", "shelved_offloaded")] == ["shelve", "shelve_offload"]


def test_rescue_wins_over_the_power_state() -> None:
    assert target_vm_state("stopped", True) == "rescued"
    assert next_action(vm_state="stopped", task_state=None, state="stopped", rescue=True) == "rescue"


@pytest.mark.parametrize("vm_state", ["building", "error", "resized"])
def test_nothing_is_planned_while_building_in_error_or_awaiting_a_resize_confirm(vm_state: str) -> None:
    assert next_action(vm_state=vm_state, task_state=None, state="stopped", rescue=False) is None


def test_nothing_is_planned_while_a_task_is_in_flight_or_when_there() -> None:
    assert next_action(vm_state="active", task_state="pausing", state="stopped", rescue=False) is None
    assert next_action(vm_state="active", task_state=None, state="active", rescue=False) is None
