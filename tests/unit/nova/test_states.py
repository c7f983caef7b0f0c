"""Nova's (vm_state, task_state) → API status table, cell by cell (nova-detail.md §1.4)."""

from __future__ import annotations

import pytest

from kubenova.nova.states import PowerState, TaskState, VmState, api_status

DEFAULTS = {
    "active": "ACTIVE",
    "building": "BUILD",
    "stopped": "SHUTOFF",
    "resized": "VERIFY_RESIZE",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "rescued": "RESCUE",
    "error": "ERROR",
    "deleted": "DELETED",
    "soft-delete": "SOFT_DELETED",
    "shelved": "SHELVED",
    "shelved_offloaded": "SHELVED_OFFLOADED",
}
RESIZE = ["resize_prep", "resize_migrating", "resize_migrated", "resize_finish"]
REBUILD = ["rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"]
OVERRIDES = {
    "active": {
        **dict.fromkeys(["rebooting", "reboot_pending", "reboot_started"], "REBOOT"),
        **dict.fromkeys(["rebooting_hard", "reboot_pending_hard", "reboot_started_hard"], "HARD_REBOOT"),
        "updating_password": "PASSWORD",
        **dict.fromkeys(REBUILD, "REBUILD"),
        "migrating": "MIGRATING",
        **dict.fromkeys(RESIZE, "RESIZE"),
    },
    "stopped": {**dict.fromkeys(RESIZE, "RESIZE"), **dict.fromkeys(REBUILD, "REBUILD")},
    "resized": {"resize_reverting": "REVERT_RESIZE"},
    "paused": {"migrating": "MIGRATING"},
    "error": dict.fromkeys(REBUILD, "REBUILD"),
}


def test_the_vocabulary_is_novas() -> None:
    assert {s.value for s in VmState} == set(DEFAULTS)
    # Nova's 42, and kubenova's two for a volume hot-plug in flight (Nova shows those on Cinder's volume).
    assert len(TaskState) == 44
    assert {TaskState.ATTACHING.value, TaskState.DETACHING.value} == {"attaching", "detaching"}
    assert TaskState.POWERING_OFF.value == "powering-off"
    assert VmState.SOFT_DELETED.value == "soft-delete"


@pytest.mark.parametrize("vm_state", sorted(DEFAULTS))
@pytest.mark.parametrize("task_state", [None, *sorted(t.value for t in TaskState)])
def test_every_cell_of_the_status_table(vm_state: str, task_state: str | None) -> None:
    expected = OVERRIDES.get(vm_state, {}).get(task_state or "", DEFAULTS[vm_state])
    assert api_status(vm_state, task_state) == expected


def test_unknown_vm_state_is_unknown() -> None:
    assert api_status("weird", None) == "UNKNOWN"
    assert api_status(None, None) == "UNKNOWN"


def test_power_state_codes_and_labels() -> None:
    assert {p.label: int(p) for p in PowerState} == {
        "NOSTATE": 0,
        "RUNNING": 1,
        "PAUSED": 3,
        "SHUTDOWN": 4,
        "CRASHED": 6,
        "SUSPENDED": 7,
    }
