"""The build phases of the Server planner: :func:`accept` (check what the API server could
not, then BUILD) and :func:`schedule` (the quota check and the claim), in one status write for a
new server. Both run under the scheduler's lock, which the executor
(:mod:`kubenova.handlers.server_executor`) holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova import admission, images, metrics, quotas
from kubenova.backends import container, topology
from kubenova.nova import faults
from kubenova.nova.actions import Action, ActionRefused
from kubenova.nova.states import PowerState, TaskState, VmState
from kubenova.quotas import ServerUsage
from kubenova.scheduling.scheduler import Chosen, NoValidHost
from kubenova.servers import history, placing, status, tasks, volumes
from kubenova.servers.bodies import AttachmentBody, FlavorCopy, Patch
from kubenova.servers.outcome import NOTHING, Event, Outcome
from kubenova.servers.view import Facts, Server


def accept(server: Server, facts: Facts, now: str) -> Outcome:
    """Check what the API server could not (references to other objects), then BUILD and
    schedule. Call under the scheduler's lock."""
    spec, st, gen = server.spec, server.status, server.generation
    flavor_name = spec.get("flavor", "")
    flavor = facts.flavor(flavor_name)
    problem = admission.flavor_problem(flavor_name, flavor, server.namespace)
    key_name = spec.get("keyName")
    if problem is None and key_name and facts.public_key(server.namespace, key_name) is None:
        problem = admission.keypair_missing(server.namespace, key_name)
    backend = placing.backend_of(spec, flavor or {}, facts.default_backend)
    if problem is None and backend == container.NAME and not spec.get("image"):
        problem = "The container backend needs spec.image; bootVolume is for kubevirt."
    image_name = spec.get("image") or ""
    image = facts.image(image_name) if image_name else None
    if problem is None and image is not None:
        problem = image_problem(image_name, image, server.namespace, flavor, backend)
    over = quotas.metadata_problem(spec.get("metadata"), facts.limits(server.namespace))
    patch: Patch = {
        "id": server.uid,
        "backend": backend,
        "image": spec.get("image"),
        "imageSource": (
            images.boot_source(
                image,
                images.storage_class(flavor, facts.root_disk_storage_class),
                root_disk=images.root_disk_name(server.name),
            )
            if image is not None
            else None
        ),
        "keyName": spec.get("keyName"),
        "locked": bool(spec.get("locked", False)),
        "lockedReason": spec.get("lockedReason"),
        "actions": history.start_action(st, tasks.CREATE, now=now),
    }
    if attached := _volumes_at_boot(server, facts):
        patch |= volumes.fields({}, attached, generation=gen, now=now)
    retrying = quotas.refused(st)
    if over and not problem and retrying:
        return NOTHING  # still over quota: said so already
    if problem or over:
        fault = faults.bad_request(problem, now=now) if problem else faults.over_quota(str(over), now=now)
        patch |= status.fail(st, fault, generation=gen, now=now)
        patch["actions"] = history.finish_action({"actions": patch["actions"]}, now=now, error=fault.message)
        reason = "BuildFailed" if problem else "QuotaExceeded"
        return Outcome(patch, events=(Event("Warning", reason, tasks.CREATE, fault.message),))
    assert flavor is not None
    patch |= status.state_patch(
        st,
        vm_state=VmState.BUILDING,
        task_state=TaskState.SCHEDULING,
        power=PowerState.NOSTATE,
        generation=gen,
        now=now,
    )
    patch["flavor"] = placing.embedded_flavor(flavor_name, flavor)
    # Scheduled at once: acceptance and claim share one status write (a write fewer per
    # server). A restart before it finds no vmState and starts over; nothing is claimed yet.
    if retrying:
        patch["fault"] = None  # the refusal is over
    return schedule(server.with_status(patch), facts, now, accepted=patch, retrying=retrying)


def _volumes_at_boot(server: Server, facts: Facts) -> list[AttachmentBody]:
    """The volumes a new server boots with, as Nova attaches its block devices while it builds:
    the root volume (listed first, as Nova lists it), and each of ``spec.volumes`` that can be
    attached now, so the first workload carries them. One that cannot (missing, in use) is left
    for later, where the refusal is said (:func:`kubenova.servers.plan.follow_spec`)."""
    spec = server.spec
    entries: list[AttachmentBody] = []
    if boot := (spec.get("bootVolume") or {}).get("claimName"):
        entries.append(volumes.root_entry(boot, server.uid))
    for v in volumes.declared(spec):
        claim = v["claimName"]
        others = volumes.holders(facts.claim_holders(server.namespace, claim), server.name)
        try:
            volumes.check_attach(claim, facts.claim(server.namespace, claim), others, namespace=server.namespace)
        except ActionRefused:
            continue
        status = {"volumeAttachments": entries}
        entries = volumes.begin(
            spec, status, Action.ATTACH_VOLUME, claim, server_id=server.uid, task=False, pending=False
        )
    return entries


def schedule(
    server: Server, facts: Facts, now: str, *, accepted: Patch | None = None, retrying: bool = False
) -> Outcome:
    """Choose a host and claim it; record the claim (with ``accepted``, the acceptance's own
    status fields, in the same write). Call under the scheduler's lock: the quota check and the
    claim are made against every decision before it."""
    accepted = accepted or {}
    st, gen = server.status, server.generation
    if accepted:  # a new server: counted against the quota here, under the lock
        over = over_quota(server, facts, accepted["flavor"])
        if over:
            # A server tried again and still over says nothing new.
            return NOTHING if retrying else _refuse_over_quota(server, accepted, over, now)
    charge = quotas.server_usage(server.name, accepted) if accepted else None
    charges: dict[str, ServerUsage | None] = {server.key: charge} if charge else {}
    ledger = facts.ledger()
    existing = ledger.get(server.key)
    # Claimed already: a restart between the claim and its status write.
    decision = Chosen(existing.host, 1) if existing else placing.choose(server, facts, ledger, st["flavor"])
    if isinstance(decision, NoValidHost):
        metrics.no_valid_host(decision)
        fault = faults.no_valid_host(decision.reasons(), now=now)
        patch = status.fail(st, fault, generation=gen, now=now)
        patch["actions"] = history.finish_action(st, now=now, error=fault.message)
        patch["conditions"] = status.scheduled(patch["conditions"], False, fault.message, generation=gen, now=now)
        # Nova counts a server in ERROR until it is deleted: the charge stands.
        event = Event("Warning", "NoValidHost", tasks.CREATE, fault.message)
        return Outcome(accepted | patch, charges=charges, events=(event,))
    claim = ledger.get(server.key)
    assert claim is not None
    patch = status.state_patch(st, vm_state=VmState.BUILDING, task_state=TaskState.SPAWNING, generation=gen, now=now)
    record = history.open_record(st)
    patch |= placing.placed_on(server, facts, claim, revision=record["requestId"] if record else None)
    patch["conditions"] = status.scheduled(
        patch["conditions"], True, f"Placed on {claim.host}.", generation=gen, now=now
    )
    return Outcome(
        accepted | patch,
        claims={server.key: claim},
        charges=charges,
        placed=bool(accepted),
        log=f"placed on {claim.host}",
    )


def over_quota(server: Server, facts: Facts, flavor: FlavorCopy) -> str | None:
    """Nova's quota message if this server does not fit its namespace's quota, else None."""
    limit, usage = facts.limits(server.namespace), facts.usage(server.namespace)
    over = quotas.over_quota(quotas.server_request(flavor["vcpus"], flavor["ram"]), usage, limit)
    group = (server.spec.get("schedulerHints") or {}).get("group")
    if over is None and group:
        members = [m for m in facts.group_members(server.namespace, group) if m != server.name]
        over = quotas.group_members_problem(len(members), limit)
    return over


def _refuse_over_quota(server: Server, accepted: Patch, message: str, now: str) -> Outcome:
    """ERROR with Nova's 403; no flavor in status, so the server holds no quota."""
    fault = faults.over_quota(message, now=now)
    patch = {k: v for k, v in accepted.items() if k != "flavor"}
    patch |= status.fail(server.status, fault, generation=server.generation, now=now)
    patch["actions"] = history.finish_action(server.status, now=now, error=message)
    return Outcome(patch, events=(Event("Warning", "QuotaExceeded", tasks.CREATE, message),))


def image_problem(
    name: str, image: Mapping[str, Any], namespace: str, flavor: Mapping[str, Any] | None, backend: str
) -> str | None:
    """Why a server of ``backend`` cannot boot the Image ``name`` with ``flavor`` (Nova's checks),
    or None. Also the rebuild's check."""
    problem = images.boot_problem(name, image, namespace, flavor)
    if problem is not None:
        return problem.message
    if backend == container.NAME:
        return (
            f"Image {name} is a disk image, which the container backend cannot run: give spec.image a "
            "container reference (such as nginx:1.27), or use the kubevirt backend."
        )
    return topology_problem(image, flavor)


def topology_problem(image: Mapping[str, Any], flavor: Mapping[str, Any] | None) -> str | None:
    """Nova's 400 for a CPU topology the image's hw_cpu_* and the flavor's hw:cpu_* cannot give."""
    if flavor is None:
        return None
    props = (image.get("spec") or {}).get("properties") or {}
    try:
        topology.choose(int(flavor.get("vcpus") or 1), flavor.get("extraSpecs") or {}, props)
    except topology.TopologyProblem as problem:
        return str(problem)
    return None
