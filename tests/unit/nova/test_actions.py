"""Every action from every vm_state: allowed ones transition as Nova's table says, refused ones
give Nova's 409 text (nova-detail.md §1.5)."""

from __future__ import annotations

import pytest

from kubenova.nova.actions import Action, ActionRefused, check, transition
from kubenova.nova.states import PowerState, VmState

UUID = "0b5b3a36-4d3b-4a1a-9d3e-2a1f1c0e9b11"
ALL = sorted(v.value for v in VmState)
# Written out from the reference, independently of the rule table under test.
ALLOWED = {
    Action.STOP: {"active", "error"},
    Action.START: {"stopped"},
    Action.REBOOT: {"active"},
    Action.REBOOT_HARD: {"active", "stopped", "paused", "suspended", "error"},
    Action.PAUSE: {"active"},
    Action.UNPAUSE: {"paused"},
    Action.SUSPEND: {"active"},
    Action.RESUME: {"suspended"},
    Action.RESIZE: {"active", "stopped"},
    Action.MIGRATE: {"active", "stopped"},
    Action.CONFIRM_RESIZE: {"resized"},
    Action.REVERT_RESIZE: {"resized"},
    Action.REBUILD: {"active", "stopped", "error"},
    Action.EVACUATE: {"active", "stopped", "error"},
    Action.SHELVE: {"active", "stopped", "paused", "suspended"},
    Action.SHELVE_OFFLOAD: {"shelved"},
    Action.UNSHELVE: {"shelved", "shelved_offloaded"},
    Action.RESCUE: {"active", "stopped", "error"},
    Action.UNRESCUE: {"rescued"},
    Action.LIVE_MIGRATE: {"active", "paused"},
    Action.LOCK: set(ALL),
    Action.UNLOCK: set(ALL),
    Action.DELETE: set(ALL),
    # nova/compute/api.py attach_volume and detach_volume: not suspended, rescued, error or building.
    Action.ATTACH_VOLUME: {"active", "paused", "stopped", "resized", "soft-delete", "shelved", "shelved_offloaded"},
    Action.DETACH_VOLUME: {"active", "paused", "stopped", "resized", "soft-delete", "shelved", "shelved_offloaded"},
    # compute/api.py snapshot (an image-backed server)
    Action.CREATE_IMAGE: {"active", "stopped", "paused", "suspended"},
}
NAMES = {
    Action.REBOOT_HARD: "reboot",
    Action.CONFIRM_RESIZE: "confirmResize",
    Action.REVERT_RESIZE: "revertResize",
    Action.SHELVE_OFFLOAD: "shelveOffload",
    Action.LIVE_MIGRATE: "os-migrateLive",
    Action.CREATE_IMAGE: "createImage",
}
ENDS = {
    Action.STOP: ("stopped", PowerState.SHUTDOWN),
    Action.START: ("active", PowerState.RUNNING),
    Action.REBOOT: ("active", PowerState.RUNNING),
    Action.REBOOT_HARD: ("active", PowerState.RUNNING),
    Action.PAUSE: ("paused", PowerState.PAUSED),
    Action.UNPAUSE: ("active", PowerState.RUNNING),
    Action.SUSPEND: ("suspended", PowerState.SUSPENDED),
    Action.RESUME: ("active", PowerState.RUNNING),
    Action.RESIZE: ("resized", None),
    Action.MIGRATE: ("resized", None),
    Action.SHELVE: ("shelved", PowerState.SHUTDOWN),
    Action.SHELVE_OFFLOAD: ("shelved_offloaded", PowerState.NOSTATE),
    Action.UNSHELVE: ("active", PowerState.RUNNING),
    Action.RESCUE: ("rescued", PowerState.RUNNING),
    Action.UNRESCUE: ("active", PowerState.RUNNING),
    Action.DELETE: ("deleted", PowerState.NOSTATE),
}


def test_the_table_covers_every_action() -> None:
    assert set(ALLOWED) == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("vm_state", ALL)
def test_each_action_from_each_vm_state(action: Action, vm_state: str) -> None:
    if vm_state in ALLOWED[action]:
        check(action, uuid=UUID, vm_state=vm_state, task_state=None, locked=False)
        t = transition(action, vm_state)
        if action in ENDS:
            assert (t.vm_state, t.power) == ENDS[action]
        elif action in (Action.LIVE_MIGRATE, Action.LOCK, Action.UNLOCK):
            assert t.vm_state == vm_state
    else:
        with pytest.raises(ActionRefused) as refused:
            check(action, uuid=UUID, vm_state=vm_state, task_state=None, locked=False)
        name = NAMES.get(action, action.value)
        assert refused.value.message == f"Cannot '{name}' instance {UUID} while it is in vm_state {vm_state}"
        assert refused.value.code == 409


def test_a_task_in_flight_refuses_with_the_task_state() -> None:
    with pytest.raises(ActionRefused, match=f"Cannot 'stop' instance {UUID} while it is in task_state powering-off"):
        check(Action.STOP, uuid=UUID, vm_state="active", task_state="powering-off", locked=False)


def test_hard_reboot_may_interrupt_a_soft_one_but_not_a_resize() -> None:
    check(Action.REBOOT_HARD, uuid=UUID, vm_state="active", task_state="reboot_started", locked=False)
    with pytest.raises(ActionRefused, match="task_state resize_prep"):
        check(Action.REBOOT_HARD, uuid=UUID, vm_state="active", task_state="resize_prep", locked=False)


def test_delete_and_evacuate_ignore_task_state() -> None:
    check(Action.DELETE, uuid=UUID, vm_state="building", task_state="spawning", locked=False)
    check(Action.EVACUATE, uuid=UUID, vm_state="active", task_state="migrating", locked=False)


@pytest.mark.parametrize("action", [a for a in Action if a not in (Action.LOCK, Action.UNLOCK)], ids=str)
def test_a_locked_server_refuses_everything_but_lock_and_unlock(action: Action) -> None:
    with pytest.raises(ActionRefused) as refused:
        check(action, uuid=UUID, vm_state="active", task_state=None, locked=True)
    assert refused.value.message == f"Instance {UUID} is locked"


def test_lock_and_unlock_work_when_locked() -> None:
    check(Action.UNLOCK, uuid=UUID, vm_state="error", task_state="spawning", locked=True)
    check(Action.LOCK, uuid=UUID, vm_state="active", task_state=None, locked=True)


@pytest.mark.parametrize(("before", "end"), [("active", "active"), ("stopped", "stopped"), (None, "active")])
def test_confirm_and_revert_return_to_the_state_before_the_resize(before: str | None, end: str) -> None:
    for action in (Action.CONFIRM_RESIZE, Action.REVERT_RESIZE):
        assert transition(action, "resized", before_resize=before).vm_state == end


def test_rebuild_keeps_a_stopped_server_stopped_and_revives_an_errored_one() -> None:
    assert transition(Action.REBUILD, "stopped").vm_state == "stopped"
    assert transition(Action.REBUILD, "error").vm_state == "active"
    assert transition(Action.REBUILD, "active").steps == (
        "rebuilding",
        "rebuild_block_device_mapping",
        "rebuild_spawning",
    )


def test_unshelving_a_shelved_server_powers_it_on_and_an_offloaded_one_is_respawned() -> None:
    assert transition(Action.UNSHELVE, "shelved").steps == ("powering-on",)
    assert transition(Action.UNSHELVE, "shelved_offloaded").steps == ("unshelving", "spawning")
