"""Where a Server goes: choosing and claiming a host for it, at build and for the actions that
move or resize it, and what its status records of the host it got.

Free functions over a :class:`~kubenova.handlers.server_step.Step`, split from it so the handler
reads as the lifecycle and this as placement. Everything that claims runs under the scheduler's
lock (the caller holds it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubenova import admission, backends, lifecycle, metrics, tasks, zones
from kubenova.handlers import common, placement
from kubenova.nova import faults
from kubenova.nova.actions import Action, ActionRefused
from kubenova.scheduling.claims import Claim
from kubenova.scheduling.model import GroupSpec
from kubenova.scheduling.scheduler import Chosen, NoValidHost, choose_and_claim

if TYPE_CHECKING:
    from kubenova.handlers.server_step import Step


def move(step: Step, action: Action, host: str | None, request_id: str) -> dict[str, Any]:
    """The claim part of an action that changes host or size; called under the scheduler's lock."""
    p = placement.of(step.memo)
    ledger = placement.ledger(p, step.ix["server_claims"])
    current = lifecycle.claim_from_status(step.status)
    source = current.host if current else None
    if action is Action.REVERT_RESIZE:
        m = step.status.get("migration") or {}
        back = lifecycle.claim_from_status({"claim": m.get("sourceClaim")})
        if back is None:
            raise ActionRefused(f"Instance {step.uid} has no source host to revert to.", code=400)
        p.pending[step.key] = back
        p.pending[step.key + lifecycle.SOURCE] = None
        return placed_on(step, back, revision=request_id) | {
            "flavor": m.get("sourceFlavor") or step.status["flavor"],
            "migration": m | {"status": "reverting"},
        }
    flavor = step.status.get("flavor") or {}
    if action is Action.RESIZE:
        name = step.spec["flavor"]
        spec = common.first(step.ix["flavor_specs"], name)
        problem = admission.flavor_problem(name, spec, step.namespace)
        if problem:
            raise ActionRefused(problem, code=400)
        assert spec is not None
        flavor = lifecycle.embedded_flavor(name, spec)
    if action is Action.EVACUATE and source is not None and host_up(step, source):
        raise ActionRefused(f"Compute service of {source} is still in use.", code=400)
    keep_source = action in tasks.MOVES and current is not None
    if current is not None:
        ledger.release(step.key)
        if keep_source:
            ledger.claim(step.key + lifecycle.SOURCE, current)
    if action is Action.RESIZE and source and host is None:
        # Nova's allow_resize_to_same_host: try the current host first, move only when it must.
        decision = choose(step, ledger, flavor, force_host=source)
        if isinstance(decision, NoValidHost):
            decision = choose(step, ledger, flavor)
    else:
        ignore = frozenset({source}) if source and action is not Action.UNSHELVE else frozenset()
        decision = choose(step, ledger, flavor, force_host=host, ignore=ignore)
    if isinstance(decision, NoValidHost):
        metrics.no_valid_host(decision)
        raise ActionRefused(faults.no_valid_host(decision.reasons(), now=step.now).message, code=500)
    claim = ledger.get(step.key)
    assert claim is not None
    p.pending[step.key] = claim
    patch = placed_on(step, claim, revision=request_id) | {"flavor": flavor}
    if action is Action.UNSHELVE:
        return patch
    kind = {Action.RESIZE: "resize", Action.MIGRATE: "migration", Action.EVACUATE: "evacuation"}[action]
    patch["migration"] = {
        "kind": kind,
        "sourceHost": source,
        "destHost": claim.host,
        "oldFlavor": (step.status.get("flavor") or {}).get("originalName"),
        "newFlavor": flavor.get("originalName"),
        "status": "migrating" if keep_source else "accepted",
        "previousVmState": step.status["vmState"],
        "sourceClaim": lifecycle.claim_status(current) if keep_source and current else None,
        "sourceFlavor": step.status.get("flavor") if keep_source else None,
    }
    if keep_source and current is not None:
        p.pending[step.key + lifecycle.SOURCE] = current
    return patch


def workload(step: Step, revision: str | None) -> dict[str, Any]:
    backend = backends.of(step.status.get("backend"))
    return {"apiVersion": backend.API_VERSION, "kind": backend.KIND, "name": step.name, "revision": revision}


def placed_on(step: Step, claim: Claim, *, revision: str | None) -> dict[str, Any]:
    zone = zones.zone_of(step.ix["host_aggregates"].get(claim.host, []))
    return {
        "claim": lifecycle.claim_status(claim),
        "host": claim.host,
        "hypervisorHostname": claim.host,
        "availabilityZone": zone,
        "workload": workload(step, revision),
    }


@metrics.scheduling_decision
def choose(
    step: Step,
    ledger: Any,
    flavor: dict[str, Any],
    *,
    force_host: str | None = None,
    ignore: frozenset[str] = frozenset(),
) -> Chosen | NoValidHost:
    hints = step.spec.get("schedulerHints") or {}
    hosts = placement.hosts(
        placement.of(step.memo),
        placement.host_states(
            step.conf,
            step.ix["node_facts"],
            step.ix["host_bodies"],
            step.ix["aggregate_metadata"],
            step.ix["host_aggregates"],
        ),
    )
    request = lifecycle.request_spec(
        step.key,
        step.namespace,
        step.spec,
        flavor,
        group=group(step, hints.get("group"), ledger),
        same_host=hosts_of(step, hints.get("sameHost", []), ledger),
        different_host=hosts_of(step, hints.get("differentHost", []), ledger),
        force_host=force_host,
        ignore_hosts=ignore,
    )
    return choose_and_claim(request, hosts, ledger)


def host_up(step: Step, host: str) -> bool:
    body = common.first(step.ix["host_bodies"], host)
    return body is not None and (body[1] or {}).get("state") == "up"


def hosts_of(step: Step, names: list[str], ledger: Any) -> frozenset[str]:
    return frozenset(c.host for n in names if (c := ledger.get(f"{step.namespace}/{n}")))


def group(step: Step, name: str | None, ledger: Any) -> GroupSpec | None:
    if not name:
        return None
    group = common.first(step.ix["server_group_specs"], (step.namespace, name))
    if group is None:
        return None
    members = [m for m in step.ix["server_group_members"].get((step.namespace, name), []) if m != step.name]
    hosts: dict[str, int] = {}
    for m in members:
        claim = ledger.get(f"{step.namespace}/{m}")
        if claim:
            hosts[claim.host] = hosts.get(claim.host, 0) + 1
    return GroupSpec(name, group["policy"], hosts, int(group.get("maxServerPerHost") or 1))
