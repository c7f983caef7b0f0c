"""The Server reconcile as pure phases: from one Server and what the operator knows of the rest
(:class:`~.view.Facts`), the next Nova step as an :class:`~.outcome.Outcome`.

:func:`phase` says which phase a status calls for: accept and schedule (:mod:`.build`, in the
same write for a new server), :func:`converge` (end the task in flight once the workload shows it
done), :func:`follow_spec` (start the next action the spec asks for, :func:`begin`, which a
ServerAction also calls) and :func:`delete`. The executor
(:mod:`kubenova.handlers.server_executor`) writes each Outcome's status patch before it touches
the workload, so a restart at any moment resumes from the status alone, and acts on the state it
wrote at once (it never waits for the echo of its own write).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from kubenova import backends, conditions, images, quotas
from kubenova.backends.workload import Observation, PlacedServer
from kubenova.nova import actions, faults
from kubenova.nova.actions import Action, ActionRefused
from kubenova.nova.states import TaskState, VmState
from kubenova.scheduling.claims import Claim
from kubenova.servers import build, claims, history, intent, moves, placing, status, tasks, volumes
from kubenova.servers.bodies import Patch
from kubenova.servers.outcome import NOTHING, Event, Outcome, Settle
from kubenova.servers.view import Facts, Server


class Phase(enum.Enum):
    ACCEPT = "accept"
    SCHEDULE = "schedule"
    CONVERGE = "converge"
    FOLLOW_SPEC = "follow_spec"


def phase(server: Server) -> Phase:
    """The phase the Server's status calls for (a deleted Server is :func:`delete`'s)."""
    st = server.status
    if st.get("vmState") is None or quotas.refused(st):
        return Phase.ACCEPT
    task = st.get("taskState")
    if task == TaskState.SCHEDULING:
        return Phase.SCHEDULE
    return Phase.CONVERGE if task else Phase.FOLLOW_SPEC


# --- tasks in flight ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Workload:
    """What the workload must become for the task in flight."""

    server: PlacedServer
    goal: tasks.Goal
    backend: str
    user_data: str | None
    action: str
    """Nova's name of the action in flight (create for a build)."""


def workload(server: Server, facts: Facts) -> Workload | None:
    """The workload the task in flight needs, or None if it needs none (deleting, not placed)."""
    st = server.status
    flight = tasks.in_flight(st)
    if flight is None or flight.task == TaskState.DELETING or not st.get("claim"):
        return None
    public_key = None
    if key_name := server.spec.get("keyName"):
        public_key = facts.public_key(server.namespace, key_name) or None
    return Workload(
        server=placing.placed(server, public_key=public_key, running=flight.goal is not tasks.Goal.STOPPED),
        goal=flight.goal,
        backend=st["backend"],
        user_data=server.spec.get("userData"),
        action=actions.EVENTS[flight.action] if flight.action else tasks.CREATE,
    )


def converge(server: Server, obs: Observation, now: str) -> Outcome:
    """End the task in flight once the workload (as ``obs`` shows it) is what the task needs."""
    st, gen = server.status, server.generation
    flight = tasks.in_flight(st)
    assert flight is not None
    action = actions.EVENTS[flight.action] if flight.action else tasks.CREATE
    if obs.failure:
        message = f"The {st.get('backend')} workload failed: {obs.failure}."
        patch = status.fail(
            st, faults.workload_failed(message, now=now, code=obs.failure_code), generation=gen, now=now
        )
        patch["actions"] = history.finish_action(st, now=now, error=message)
        event = Event("Warning", "WorkloadFailed", action, message)
        return Outcome(patch, events=(event,), settle=_settle(server, patch, error=message))
    if not tasks.reached(flight.goal, obs, tasks.revision(st)):
        return NOTHING
    if flight.action in volumes.ACTIONS and obs.volumes != frozenset(volumes.on_workload(st)):
        return NOTHING  # KubeVirt has not taken the hot-plug yet
    patch = tasks.finish(st, flight, obs, generation=gen, now=now)
    patch["conditions"] = status.synced(patch, True, "Synced", "As declared.", generation=gen, now=now)
    released: dict[str, Claim | None] = {}
    if flight.action is Action.SHELVE_OFFLOAD:
        released[server.key] = None
    elif flight.action is Action.REVERT_RESIZE:
        released[server.key + claims.SOURCE] = None
    events: tuple[Event, ...] = ()
    if flight.action is not None:  # a finished build is visible in status; one Event per action
        note = f"{action} finished: the server is {patch['status']}."
        events = (Event("Normal", tasks.event_reason(flight.action), action, note),)
    before = {a["id"] for a in volumes.attachments(st)}
    after = {a["id"] for a in patch.get("volumeAttachments", volumes.attachments(st))}
    return Outcome(
        patch,
        claims=released,
        events=events,
        settle=_settle(server, patch, error=None),
        log=f"{action} finished, {patch['status']}",
        wake=tuple(f"{server.namespace}/{c}" for c in sorted(before - after)),
    )


def action_failed(server: Server, action: str, message: str, now: str) -> Outcome:
    """The backend refused a step: as Nova's reverts_task_state, the task is cleared and the
    server keeps its vm_state, with the fault recorded."""
    st, gen = server.status, server.generation
    patch = status.state_patch(st, vm_state=st["vmState"], task_state=None, generation=gen, now=now)
    patch["fault"] = faults.workload_failed(message, now=now).to_status()
    patch["actions"] = history.finish_action(st, now=now, error=message)
    patch["conditions"] = status.synced(patch, False, "ActionFailed", message, generation=gen, now=now)
    event = Event("Warning", "ActionFailed", action, message)
    return Outcome(patch, events=(event,), settle=_settle(server, patch, error=message))


def _settle(server: Server, patch: Patch, *, error: str | None) -> Settle | None:
    """The ServerAction that asked for the action ending with ``patch``, if one did."""
    after = server.with_status(patch).status
    record = history.open_record(after) or history.last_record(after)
    if record and record.get("serverAction"):
        return Settle(record["serverAction"], record.get("requestId"), error)
    return None


# --- lasting state from the spec ------------------------------------------------------------------


def wanted(server: Server, facts: Facts) -> Action | str | None:
    """What the spec asks for now (see :func:`kubenova.servers.intent.wanted`)."""
    # Only from the host the server is on: the instance's watch may lag behind a finished move.
    leave = facts.evacuating(server.namespace, server.name)
    evacuating = leave is not None and leave == server.status.get("host")
    return intent.wanted(server.spec, server.status, facts.maintenance, evacuating=evacuating)


def needs_lock(server: Server, facts: Facts) -> bool:
    """Whether following the spec now may claim or release a host, or attach a volume (then the
    executor takes the scheduler's lock first); most passes only compare, and take no lock."""
    action = wanted(server, facts) if server.status.get("vmState") else None
    if action is Action.ATTACH_VOLUME:
        return True  # checks who holds the claim and takes it, as one decision
    return isinstance(action, Action) and claims_or_releases(action, server.status["vmState"])


def claims_or_releases(action: Action, vm_state: str) -> bool:
    """Whether starting ``action`` changes the ledger (a move, or a confirmed resize)."""
    return action is Action.CONFIRM_RESIZE or moves.of(action, vm_state) is not None


def follow_spec(server: Server, facts: Facts, now: str) -> Outcome:
    """Start the next Nova action toward what the spec declares; keep the lock current."""
    spec, gen = server.spec, server.generation
    patch: Patch = {}
    before = server.status
    locked = bool(spec.get("locked", False))
    if locked != bool(before.get("locked", False)) or spec.get("lockedReason") != before.get("lockedReason"):
        patch["locked"] = locked
        patch["lockedReason"] = spec.get("lockedReason")
        server = server.with_status(patch)  # the action below is checked against the new lock
    action = wanted(server, facts)
    if isinstance(action, Action) and intent.failed_already(action, server.status, gen):
        return NOTHING  # said so when it failed (Synced=False, fault, Event); a spec change retries
    if isinstance(action, Action):
        try:
            return begin(server, facts, action, now, extra=patch)
        except ActionRefused as refused:
            return _refused(server, refused, actions.EVENTS[action], patch, now)
    if action is not None:  # waiting on the user: say why
        patch["conditions"] = status.synced(server.status, False, "Waiting", action, generation=gen, now=now)
    else:
        patch["conditions"] = status.synced(server.status, True, "Synced", "As declared.", generation=gen, now=now)
    if gen != server.status.get("observedGeneration"):
        patch["observedGeneration"] = gen
    return Outcome(patch) if conditions.differs(before, patch) else NOTHING


def _refused(server: Server, refused: ActionRefused, action: str, patch: Patch, now: str) -> Outcome:
    """Say why the spec cannot be followed, once: a condition, a fault and a Warning Event."""
    st, gen = server.status, server.generation
    reason = "Unsupported" if refused.code == 501 else "ActionRefused"
    patch["conditions"] = status.synced(st, False, reason, refused.message, generation=gen, now=now)
    if (st.get("fault") or {}).get("message") != refused.message:
        patch["fault"] = faults.Fault(refused.code, refused.message, now).to_status()
    if gen != st.get("observedGeneration"):
        patch["observedGeneration"] = gen
    if not conditions.differs(st, patch):
        return NOTHING
    events = (Event("Warning", reason, action, refused.message),) if "fault" in patch else ()
    return Outcome(patch, events=events)


# --- starting an action ---------------------------------------------------------------------------


def begin(
    server: Server,
    facts: Facts,
    action: Action,
    now: str,
    *,
    server_action: str | None = None,
    host: str | None = None,
    request_id: str | None = None,
    extra: Patch | None = None,
) -> Outcome:
    """Start ``action`` with one status write, or raise :class:`ActionRefused` (Nova's error).
    Call under the scheduler's lock if :func:`claims_or_releases` says so."""
    st, gen = server.status, server.generation
    vm, task = st["vmState"], st.get("taskState")
    actions.check(action, uuid=server.uid, vm_state=vm, task_state=task, locked=bool(server.spec.get("locked")))
    backend = backends.of(st.get("backend"))
    why = backend.UNSUPPORTED.get(action.value)
    if why:
        raise actions.not_supported(action, backend.NAME, why)
    if action is Action.RESIZE:
        _check_resize_quota(server, facts)
        _check_resize_image(server, facts)
    if action in volumes.ACTIONS:
        return _begin_volume(server, facts, action, now, extra=extra)
    image_source = _check_rebuild_image(server, facts) if action is Action.REBUILD else None
    name = actions.EVENTS[action]
    records = history.start_action(st, name, now=now, server_action=server_action, request_id=request_id)
    request_id = str(records[-1]["requestId"])
    steps = actions.transition(action, vm).steps
    patch = dict(extra or {})
    patch |= status.state_patch(st, vm_state=vm, task_state=steps[0] if steps else None, generation=gen, now=now)
    patch["actions"] = records
    patch["conditions"] = status.synced(patch, True, "Converging", f"{name} in progress.", generation=gen, now=now)
    if action in tasks.REMAKES:
        patch["workload"] = placing.workload_ref(server, request_id)
    if action is Action.REBUILD:
        patch["image"] = server.spec.get("image")
        if image_source is not None:  # Nova wipes the root disk: a new one, the old one goes
            image_source["rootDisk"] = images.root_disk_name(server.name, request_id)
            if old := (st.get("imageSource") or {}).get("rootDisk"):
                image_source["previousRootDisk"] = old
        patch["imageSource"] = image_source
    log = f"{name} started ({request_id})"
    if action is Action.CONFIRM_RESIZE:
        patch |= tasks.confirm(st, generation=gen, now=now)
        patch["actions"] = history.finish_action({"actions": records}, now=now)
        patch["conditions"] = status.synced(patch, True, "Synced", "Resize confirmed.", generation=gen, now=now)
        note = "The move is confirmed; the source host is released."
        return Outcome(
            patch,
            claims={server.key + claims.SOURCE: None},
            events=(Event("Normal", "ResizeConfirmed", name, note),),
            settle=_settle(server, patch, error=None),
        )
    move = moves.of(action, vm)
    if move is not None:
        made = move(server, facts, host=host, request_id=request_id, now=now)
        return Outcome(patch | made.patch, claims=made.claims, log=log)
    return Outcome(patch, log=log)


def _begin_volume(server: Server, facts: Facts, action: Action, now: str, *, extra: Patch | None) -> Outcome:
    """Attach or detach the next volume the spec asks for: a task while KubeVirt hot-plugs it
    into (or out of) the VirtualMachine, else recorded at once (see :mod:`.volumes`)."""
    st, gen, spec = server.status, server.generation, server.spec
    change = volumes.next_change(spec, st)
    assert change is not None
    assert change[0] is action
    claim = change[1]
    if action is Action.ATTACH_VOLUME:
        others = volumes.holders(facts.claim_holders(server.namespace, claim), server.name)
        volumes.check_attach(claim, facts.claim(server.namespace, claim), others, namespace=server.namespace)
    vm, backend = st["vmState"], st.get("backend")
    name = actions.EVENTS[action]
    records = history.start_action(st, name, now=now)
    task = not volumes.immediate(backend, vm, bool(st.get("workload")))
    pending = not task and volumes.pod_running(backend, vm)
    entries = volumes.begin(spec, st, action, claim, server_id=server.uid, task=task, pending=pending)
    patch = dict(extra or {})
    steps = actions.transition(action, vm).steps
    patch |= status.state_patch(st, vm_state=vm, task_state=steps[0] if task else None, generation=gen, now=now)
    patch |= volumes.fields(patch, entries, generation=gen, now=now)
    verb = "attach" if action is Action.ATTACH_VOLUME else "detach"
    if task:
        patch["actions"] = records
        patch["conditions"] = status.synced(
            patch, True, "Converging", f"{name} {claim} in progress.", generation=gen, now=now
        )
        return Outcome(patch, log=f"{name} {claim} started")
    patch["actions"] = history.finish_action({"actions": records}, now=now)
    events: tuple[Event, ...]
    if pending:
        note = (
            f"Volume {claim} is to {verb}, at the Pod's next start: a running Pod's volumes cannot change, "
            "and kubenova does not restart it for that (stop and start the server, or reboot it, to apply it now)."
        )
        events = (Event("Normal", "VolumePending", name, note),)
    else:
        events = (
            Event(
                "Normal", "VolumeAttached" if verb == "attach" else "VolumeDetached", name, f"Volume {claim} {verb}ed."
            ),
        )
    # Synced as declared: what waits for the Pod's next start is the VolumesPending condition's to say.
    patch["conditions"] = status.synced(patch, True, "Synced", "As declared.", generation=gen, now=now)
    return Outcome(
        patch, events=events, wake=(f"{server.namespace}/{claim}",) if verb == "detach" else (), log=f"{name} {claim}"
    )


def _check_resize_quota(server: Server, facts: Facts) -> None:
    """A resize to a larger flavor needs the difference in quota (Nova's 403 otherwise)."""
    new = facts.flavor(server.spec.get("flavor", ""))
    if new is None:
        return  # the move says the flavor is missing
    limit, usage = facts.limits(server.namespace), facts.usage(server.namespace)
    over = quotas.over_quota(quotas.resize_request(server.status.get("flavor") or {}, new), usage, limit)
    if over:
        raise ActionRefused(over, 403)


def _check_rebuild_image(server: Server, facts: Facts) -> dict[str, Any] | None:
    """Nova checks a rebuild's image as a create's (400); the Image's source to record, if any."""
    name = server.spec.get("image") or ""
    image = facts.image(name) if name else None
    if image is None:
        return None
    flavor = server.status.get("flavor")
    problem = build.image_problem(name, image, server.namespace, flavor, str(server.status.get("backend", "")))
    if problem:
        raise ActionRefused(problem, 400)
    recorded = server.status.get("imageSource") or {}
    storage = recorded.get("storageClass") or images.storage_class(flavor, facts.root_disk_storage_class)
    return images.boot_source(image, storage)


def _check_resize_image(server: Server, facts: Facts) -> None:
    """Nova checks the new flavor against the image the server booted: 400 if it is too small."""
    new = facts.flavor(server.spec.get("flavor", ""))
    problem = images.resize_problem(server.status.get("imageSource"), str(server.status.get("image")), new or {})
    if new is not None and problem:
        raise ActionRefused(problem.message, problem.code)


# --- delete ---------------------------------------------------------------------------------------


def delete(server: Server, now: str) -> Outcome:
    """What a deleted Server's status says before its workload goes and its claims are released
    (:data:`NOTHING` if it says so already). A locked server waits, and says so once: its
    Outcome has a patch but no :attr:`Outcome.claims`; see :func:`deletable`."""
    st, gen = server.status, server.generation
    if server.spec.get("locked"):
        message = f"Instance {server.uid} is locked"
        if (st.get("fault") or {}).get("message") == message:
            return NOTHING
        note = message + ": unlock it to delete it."
        patch: Patch = {
            "fault": faults.conflict(message, now=now).to_status(),
            "conditions": status.synced(st, False, "Locked", note, generation=gen, now=now),
        }
        return Outcome(patch, events=(Event("Warning", "Locked", "delete", note),))
    if st.get("taskState") == TaskState.DELETING:
        return NOTHING
    vm = st.get("vmState") or VmState.BUILDING
    return Outcome(status.state_patch(st, vm_state=vm, task_state=TaskState.DELETING, generation=gen, now=now))


def deletable(server: Server) -> bool:
    """Whether the workload may go and the claims be released (a locked server is kept)."""
    return not server.spec.get("locked")


def released(server: Server) -> Outcome:
    """The overlays once a deleted server's workload is gone: no claims, no quota charge."""
    held = volumes.held(server.spec, server.status)
    return Outcome(
        claims={server.key: None, server.key + claims.SOURCE: None},
        charges={server.key: None},
        log=f"deleted; its claim on {server.status.get('host')} released",
        wake=tuple(f"{server.namespace}/{c}" for c, holds in sorted(held.items()) if holds),
    )
