"""Nova's server actions: from which states each is allowed, the task states it passes through,
and where it ends (``nova/compute/api.py``'s ``check_instance_state`` decorators, and the
table in ``shared/reference/nova-detail.md`` §1.5).

A refused action gives Nova's 409 text, word for word, so users can search for it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from kubenova.nova.states import (
    ALLOW_REBOOT,
    HARD_REBOOT,
    REBUILDING,
    RESIZING,
    SOFT_REBOOT,
    PowerState,
    TaskState,
    VmState,
)

V = VmState
T = TaskState
IDLE: frozenset[str | None] = frozenset({None})
ANY = None


class Action(enum.StrEnum):
    STOP = "stop"
    START = "start"
    REBOOT = "reboot"
    REBOOT_HARD = "reboot_hard"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SUSPEND = "suspend"
    RESUME = "resume"
    RESIZE = "resize"
    CONFIRM_RESIZE = "confirm_resize"
    REVERT_RESIZE = "revert_resize"
    REBUILD = "rebuild"
    SHELVE = "shelve"
    SHELVE_OFFLOAD = "shelve_offload"
    UNSHELVE = "unshelve"
    RESCUE = "rescue"
    UNRESCUE = "unrescue"
    MIGRATE = "migrate"
    LIVE_MIGRATE = "live_migrate"
    EVACUATE = "evacuate"
    LOCK = "lock"
    UNLOCK = "unlock"
    DELETE = "delete"
    ATTACH_VOLUME = "attach_volume"
    DETACH_VOLUME = "detach_volume"
    CREATE_IMAGE = "create_image"


class End(enum.Enum):
    """Where an action ends when it is not one fixed vm_state."""

    UNCHANGED = "unchanged"
    """The vm_state it started from (live migration, lock)."""
    BEFORE_RESIZE = "before-resize"
    """active, or stopped if the server was stopped before the resize (confirm and revert)."""
    ACTIVE_UNLESS_STOPPED = "active-unless-stopped"
    """Rebuild and evacuate: active, but a stopped server is powered off again."""


@dataclasses.dataclass(frozen=True)
class Rule:
    nova_name: str
    """The action's name in Nova's messages (its API body key)."""
    allowed: frozenset[str] | None
    """vm_states it is allowed from; None: any."""
    task_states: frozenset[str | None] | None = IDLE
    """task_states it is allowed from; None: any. By default only when no task is in flight."""
    steps: tuple[str, ...] = ()
    """The task_states it passes through, in order."""
    end: str | End = End.UNCHANGED
    power: PowerState | None = None
    """The power state it ends in; None: unchanged."""
    lock_exempt: bool = False
    """Allowed on a locked server (only lock and unlock are)."""


def _vm(*states: VmState) -> frozenset[str]:
    return frozenset(states)


VOLUME_STATES = _vm(V.ACTIVE, V.PAUSED, V.STOPPED, V.RESIZED, V.SOFT_DELETED, V.SHELVED, V.SHELVED_OFFLOADED)
"""Where a volume may be attached or detached (Nova's attach_volume and detach_volume; not
suspended, rescued, error or building)."""

RULES: Mapping[Action, Rule] = {
    Action.STOP: Rule(
        "stop", _vm(V.ACTIVE, V.ERROR), steps=(T.POWERING_OFF,), end=V.STOPPED, power=PowerState.SHUTDOWN
    ),
    Action.START: Rule("start", _vm(V.STOPPED), steps=(T.POWERING_ON,), end=V.ACTIVE, power=PowerState.RUNNING),
    Action.REBOOT: Rule("reboot", _vm(V.ACTIVE), steps=SOFT_REBOOT, end=V.ACTIVE, power=PowerState.RUNNING),
    Action.REBOOT_HARD: Rule(
        "reboot",
        _vm(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED, V.ERROR),
        task_states=ALLOW_REBOOT,
        steps=HARD_REBOOT,
        end=V.ACTIVE,
        power=PowerState.RUNNING,
    ),
    Action.PAUSE: Rule("pause", _vm(V.ACTIVE), steps=(T.PAUSING,), end=V.PAUSED, power=PowerState.PAUSED),
    Action.UNPAUSE: Rule("unpause", _vm(V.PAUSED), steps=(T.UNPAUSING,), end=V.ACTIVE, power=PowerState.RUNNING),
    Action.SUSPEND: Rule("suspend", _vm(V.ACTIVE), steps=(T.SUSPENDING,), end=V.SUSPENDED, power=PowerState.SUSPENDED),
    Action.RESUME: Rule("resume", _vm(V.SUSPENDED), steps=(T.RESUMING,), end=V.ACTIVE, power=PowerState.RUNNING),
    Action.RESIZE: Rule("resize", _vm(V.ACTIVE, V.STOPPED), steps=RESIZING, end=V.RESIZED),
    Action.MIGRATE: Rule("migrate", _vm(V.ACTIVE, V.STOPPED), steps=RESIZING, end=V.RESIZED),
    Action.CONFIRM_RESIZE: Rule("confirmResize", _vm(V.RESIZED), end=End.BEFORE_RESIZE),
    Action.REVERT_RESIZE: Rule("revertResize", _vm(V.RESIZED), steps=(T.RESIZE_REVERTING,), end=End.BEFORE_RESIZE),
    Action.REBUILD: Rule("rebuild", _vm(V.ACTIVE, V.STOPPED, V.ERROR), steps=REBUILDING, end=End.ACTIVE_UNLESS_STOPPED),
    Action.EVACUATE: Rule(
        "evacuate", _vm(V.ACTIVE, V.STOPPED, V.ERROR), task_states=ANY, steps=REBUILDING, end=End.ACTIVE_UNLESS_STOPPED
    ),
    Action.SHELVE: Rule(
        "shelve",
        _vm(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
        steps=(T.SHELVING, T.SHELVING_IMAGE_PENDING_UPLOAD, T.SHELVING_IMAGE_UPLOADING),
        end=V.SHELVED,
        power=PowerState.SHUTDOWN,
    ),
    Action.SHELVE_OFFLOAD: Rule(
        "shelveOffload",
        _vm(V.SHELVED),
        steps=(T.SHELVING_OFFLOADING,),
        end=V.SHELVED_OFFLOADED,
        power=PowerState.NOSTATE,
    ),
    Action.UNSHELVE: Rule(
        "unshelve",
        _vm(V.SHELVED, V.SHELVED_OFFLOADED),
        steps=(T.UNSHELVING, T.SPAWNING),
        end=V.ACTIVE,
        power=PowerState.RUNNING,
    ),
    Action.RESCUE: Rule(
        "rescue", _vm(V.ACTIVE, V.STOPPED, V.ERROR), steps=(T.RESCUING,), end=V.RESCUED, power=PowerState.RUNNING
    ),
    Action.UNRESCUE: Rule("unrescue", _vm(V.RESCUED), steps=(T.UNRESCUING,), end=V.ACTIVE, power=PowerState.RUNNING),
    Action.LIVE_MIGRATE: Rule("os-migrateLive", _vm(V.ACTIVE, V.PAUSED), steps=(T.MIGRATING,)),
    Action.LOCK: Rule("lock", ANY, task_states=ANY, lock_exempt=True),
    Action.UNLOCK: Rule("unlock", ANY, task_states=ANY, lock_exempt=True),
    # os-volume_attachments POST and DELETE (compute/api.py attach_volume, detach_volume):
    # check_instance_state with these vm_states and no task in flight.
    Action.ATTACH_VOLUME: Rule("attach_volume", VOLUME_STATES, steps=(T.ATTACHING,)),
    Action.DETACH_VOLUME: Rule("detach_volume", VOLUME_STATES, steps=(T.DETACHING,)),
    # createImage (compute/api.py snapshot): the task states as Nova's API, compute manager and
    # libvirt driver set them in turn; the vm_state is left as it was.
    Action.CREATE_IMAGE: Rule(
        "createImage",
        _vm(V.ACTIVE, V.STOPPED, V.PAUSED, V.SUSPENDED),
        steps=(T.IMAGE_SNAPSHOT_PENDING, T.IMAGE_SNAPSHOT, T.IMAGE_PENDING_UPLOAD, T.IMAGE_UPLOADING),
    ),
    Action.DELETE: Rule("delete", ANY, task_states=ANY, steps=(T.DELETING,), end=V.DELETED, power=PowerState.NOSTATE),
}


EVENTS: Mapping[Action, str] = {
    **{a: r.nova_name for a, r in RULES.items()},
    Action.LIVE_MIGRATE: "live-migration",
    Action.CREATE_IMAGE: "createImage",
}
"""Each action's name in the action history (``nova/compute/instance_actions.py``)."""


class ActionRefused(Exception):
    """Nova's HTTP 409 for an action the server's state (or lock) does not allow."""

    def __init__(self, message: str, code: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def not_supported(action: Action, backend: str, why: str) -> ActionRefused:
    """Nova's 501 for an action the virt driver cannot do, saying what to do instead."""
    return ActionRefused(
        f"The requested functionality is not supported: the {backend} backend cannot {RULES[action].nova_name} "
        f"a server ({why}).",
        code=501,
    )


def check(action: Action, *, uuid: str, vm_state: str, task_state: str | None, locked: bool) -> Rule:
    """The rule of ``action`` if the server may take it now; else :class:`ActionRefused`.

    As in Nova the lock is checked first (``check_instance_lock`` wraps ``check_instance_state``),
    then the vm_state, then the task_state.
    """
    rule = RULES[action]
    if locked and not rule.lock_exempt:
        raise ActionRefused(f"Instance {uuid} is locked")
    if rule.allowed is not None and vm_state not in rule.allowed:
        raise ActionRefused(f"Cannot '{rule.nova_name}' instance {uuid} while it is in vm_state {vm_state}")
    if rule.task_states is not None and task_state not in rule.task_states:
        raise ActionRefused(f"Cannot '{rule.nova_name}' instance {uuid} while it is in task_state {task_state}")
    return rule


@dataclasses.dataclass(frozen=True)
class Transition:
    steps: tuple[str, ...]
    vm_state: str
    power: PowerState | None


def transition(action: Action, vm_state: str, *, before_resize: str | None = None) -> Transition:
    """Where ``action`` takes a server now in ``vm_state`` (assumed allowed: see :func:`check`).

    ``before_resize`` is the vm_state a resized server had before its resize or migration.
    """
    rule = RULES[action]
    steps = rule.steps
    if action is Action.UNSHELVE and vm_state == V.SHELVED:
        steps = (T.POWERING_ON,)  # a shelved server still has its host: it is powered on, not rescheduled
    end = rule.end
    power = rule.power
    if end is End.UNCHANGED:
        end_state = vm_state
    elif end is End.BEFORE_RESIZE:
        end_state = before_resize if before_resize in (V.ACTIVE, V.STOPPED) else V.ACTIVE
        power = PowerState.SHUTDOWN if end_state == V.STOPPED else PowerState.RUNNING
    elif end is End.ACTIVE_UNLESS_STOPPED:
        end_state = V.STOPPED if vm_state == V.STOPPED else V.ACTIVE
        power = PowerState.SHUTDOWN if end_state == V.STOPPED else PowerState.RUNNING
    else:
        end_state = end
    return Transition(steps=steps, vm_state=end_state, power=power)
