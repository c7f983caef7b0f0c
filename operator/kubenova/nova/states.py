"""Nova's server states (``nova/compute/vm_states.py``, ``task_states.py``, ``power_state.py``)
and the API ``status`` they show (``nova/api/openstack/common.py``, ``_STATE_MAP``)."""

from __future__ import annotations

import enum


class VmState(enum.StrEnum):
    ACTIVE = "active"
    BUILDING = "building"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    RESCUED = "rescued"
    RESIZED = "resized"
    SOFT_DELETED = "soft-delete"
    DELETED = "deleted"
    ERROR = "error"
    SHELVED = "shelved"
    SHELVED_OFFLOADED = "shelved_offloaded"


class TaskState(enum.StrEnum):
    SCHEDULING = "scheduling"
    BLOCK_DEVICE_MAPPING = "block_device_mapping"
    NETWORKING = "networking"
    SPAWNING = "spawning"
    IMAGE_SNAPSHOT = "image_snapshot"
    IMAGE_SNAPSHOT_PENDING = "image_snapshot_pending"
    IMAGE_PENDING_UPLOAD = "image_pending_upload"
    IMAGE_UPLOADING = "image_uploading"
    IMAGE_BACKUP = "image_backup"
    UPDATING_PASSWORD = "updating_password"
    RESIZE_PREP = "resize_prep"
    RESIZE_MIGRATING = "resize_migrating"
    RESIZE_MIGRATED = "resize_migrated"
    RESIZE_FINISH = "resize_finish"
    RESIZE_REVERTING = "resize_reverting"
    RESIZE_CONFIRMING = "resize_confirming"
    REBOOTING = "rebooting"
    REBOOT_PENDING = "reboot_pending"
    REBOOT_STARTED = "reboot_started"
    REBOOTING_HARD = "rebooting_hard"
    REBOOT_PENDING_HARD = "reboot_pending_hard"
    REBOOT_STARTED_HARD = "reboot_started_hard"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    RESCUING = "rescuing"
    UNRESCUING = "unrescuing"
    REBUILDING = "rebuilding"
    REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
    REBUILD_SPAWNING = "rebuild_spawning"
    MIGRATING = "migrating"
    DELETING = "deleting"
    SOFT_DELETING = "soft-deleting"
    RESTORING = "restoring"
    SHELVING = "shelving"
    SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
    SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
    SHELVING_OFFLOADING = "shelving_offloading"
    UNSHELVING = "unshelving"
    # Not Nova's: Nova leaves the server's task_state alone while Cinder's volume is attaching or
    # detaching. kubenova has no Cinder, so the hot-plug in flight shows on the server.
    ATTACHING = "attaching"
    DETACHING = "detaching"


class PowerState(enum.IntEnum):
    """Nova's numeric power states; 2 and 5 are unused placeholders in Nova too."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7

    @property
    def label(self) -> str:
        return self.name


T = TaskState
SOFT_REBOOT = (T.REBOOTING, T.REBOOT_PENDING, T.REBOOT_STARTED)
HARD_REBOOT = (T.REBOOTING_HARD, T.REBOOT_PENDING_HARD, T.REBOOT_STARTED_HARD)
RESIZING = (T.RESIZE_PREP, T.RESIZE_MIGRATING, T.RESIZE_MIGRATED, T.RESIZE_FINISH)
REBUILDING = (T.REBUILDING, T.REBUILD_BLOCK_DEVICE_MAPPING, T.REBUILD_SPAWNING)
ALLOW_REBOOT = frozenset({None, *SOFT_REBOOT, *HARD_REBOOT, T.RESUMING, T.UNPAUSING, T.PAUSING, T.SUSPENDING})
"""Task states from which a HARD reboot may start (Nova's task_states.ALLOW_REBOOT)."""

_DEFAULT = "default"
_STATE_MAP: dict[str, dict[str, str]] = {
    VmState.ACTIVE: {
        _DEFAULT: "ACTIVE",
        **dict.fromkeys(SOFT_REBOOT, "REBOOT"),
        **dict.fromkeys(HARD_REBOOT, "HARD_REBOOT"),
        T.UPDATING_PASSWORD: "PASSWORD",
        **dict.fromkeys(REBUILDING, "REBUILD"),
        T.MIGRATING: "MIGRATING",
        **dict.fromkeys(RESIZING, "RESIZE"),
    },
    VmState.BUILDING: {_DEFAULT: "BUILD"},
    VmState.STOPPED: {_DEFAULT: "SHUTOFF", **dict.fromkeys(RESIZING, "RESIZE"), **dict.fromkeys(REBUILDING, "REBUILD")},
    VmState.RESIZED: {_DEFAULT: "VERIFY_RESIZE", T.RESIZE_REVERTING: "REVERT_RESIZE"},
    VmState.PAUSED: {_DEFAULT: "PAUSED", T.MIGRATING: "MIGRATING"},
    VmState.SUSPENDED: {_DEFAULT: "SUSPENDED"},
    VmState.RESCUED: {_DEFAULT: "RESCUE"},
    VmState.ERROR: {_DEFAULT: "ERROR", **dict.fromkeys(REBUILDING, "REBUILD")},
    VmState.DELETED: {_DEFAULT: "DELETED"},
    VmState.SOFT_DELETED: {_DEFAULT: "SOFT_DELETED"},
    VmState.SHELVED: {_DEFAULT: "SHELVED"},
    VmState.SHELVED_OFFLOADED: {_DEFAULT: "SHELVED_OFFLOADED"},
}


def api_status(vm_state: str | None, task_state: str | None) -> str:
    """The API ``status`` Nova shows for a (vm_state, task_state) pair; UNKNOWN if it knows none."""
    row = _STATE_MAP.get(vm_state or "")
    if row is None:
        return "UNKNOWN"
    return row.get(task_state or "", row[_DEFAULT])
