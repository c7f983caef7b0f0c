"""The declarative side: which Nova action moves a Server from its vm_state toward the state its
spec declares (``spec.state`` and ``spec.rescue``).

Paths are found by searching the rule table, not written by hand, so they can only take steps
Nova allows: a paused server asked to stop is unpaused first, a suspended one resumed first.
Nothing is planned while a task is in flight, nor from building, error or resized: those wait
for the build to end, for the user (rebuild, delete) or for a confirm/revert.
"""

from __future__ import annotations

from collections import deque

from kubenova.nova.actions import RULES, Action, End, transition
from kubenova.nova.states import VmState

DECLARATIVE = (
    Action.START,
    Action.STOP,
    Action.PAUSE,
    Action.UNPAUSE,
    Action.SUSPEND,
    Action.RESUME,
    Action.SHELVE,
    Action.SHELVE_OFFLOAD,
    Action.UNSHELVE,
    Action.RESCUE,
    Action.UNRESCUE,
)
TARGETS = ("active", "stopped", "paused", "suspended", "shelved", "shelved_offloaded")
WAITING = frozenset({VmState.BUILDING, VmState.ERROR, VmState.RESIZED, VmState.DELETED, VmState.SOFT_DELETED})


def target_vm_state(state: str, rescue: bool) -> str:
    """The vm_state a spec asks for: rescue wins over the declared power state."""
    return VmState.RESCUED if rescue else state


def path(vm_state: str, target: str) -> list[Action]:
    """The shortest sequence of declarative actions from ``vm_state`` to ``target`` ([] if there)."""
    if vm_state == target:
        return []
    seen = {vm_state}
    queue: deque[tuple[str, list[Action]]] = deque([(vm_state, [])])
    while queue:
        state, actions = queue.popleft()
        for action in DECLARATIVE:
            rule = RULES[action]
            if rule.allowed is None or state not in rule.allowed or isinstance(rule.end, End):
                continue
            nxt = transition(action, state).vm_state
            if nxt in seen:
                continue
            if nxt == target:
                return [*actions, action]
            seen.add(nxt)
            queue.append((nxt, [*actions, action]))
    return []


def next_action(*, vm_state: str, task_state: str | None, state: str, rescue: bool) -> Action | None:
    """The next action toward the declared state, or None (there already, busy, or waiting)."""
    if task_state is not None or vm_state in WAITING:
        return None
    steps = path(vm_state, target_vm_state(state, rescue))
    return steps[0] if steps else None
