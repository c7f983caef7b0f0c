"""The actions that change a Server's host or size, one function per kind of move: revert a
resize, resize (on the same host first), migrate, evacuate, and unshelve an offloaded server.

Each returns a :class:`Move`: the status fields the action's first write carries (the new
claim, host, flavor and migration record) and the ledger overlay the executor applies once that
write is made. Each raises :class:`~kubenova.nova.actions.ActionRefused` with Nova's error when
the move cannot be made. Called by :func:`kubenova.servers.plan.begin` under the scheduler's
lock (the executor holds it): ``facts.ledger()`` is read and claimed in one step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from kubenova import admission, images, metrics
from kubenova.nova import faults
from kubenova.nova.actions import Action, ActionRefused
from kubenova.nova.states import VmState
from kubenova.scheduling.claims import Claim, Ledger
from kubenova.scheduling.scheduler import NoValidHost
from kubenova.servers import claims, placing
from kubenova.servers.bodies import FlavorCopy, MigrationBody, Patch
from kubenova.servers.view import Facts, Server


class Move(NamedTuple):
    patch: Patch
    """Status fields of the action's first write."""
    claims: dict[str, Claim | None]
    """Ledger keys → the claim written (None: released), for the overlay until the index has them."""


def revert(server: Server, facts: Facts, *, host: str | None, request_id: str, now: str) -> Move:
    """Back to the source host and flavor (a revert is no scheduling decision: the source's
    claim was kept for it)."""
    m = server.status.get("migration") or MigrationBody()
    back = claims.from_status(m.get("sourceClaim"))
    if back is None:
        raise ActionRefused(f"Instance {server.uid} has no source host to revert to.", code=400)
    patch = placing.placed_on(server, facts, back, revision=request_id) | {
        "flavor": m.get("sourceFlavor") or server.status["flavor"],
        "migration": m | {"status": "reverting"},
    }
    return Move(patch, {server.key: back, server.key + claims.SOURCE: None})


def resize(server: Server, facts: Facts, *, host: str | None, request_id: str, now: str) -> Move:
    """To the spec's flavor: on the current host if it fits (Nova's allow_resize_to_same_host),
    else wherever the scheduler says; the source's claim is kept until confirmed or reverted."""
    name = server.spec["flavor"]
    spec = facts.flavor(name)
    problem = admission.flavor_problem(name, spec, server.namespace)
    if problem:
        raise ActionRefused(problem, code=400)
    assert spec is not None
    flavor = placing.embedded_flavor(name, spec)
    ledger, current = _released(server, facts, keep_source=True)
    source = current.host if current else None
    stays = _disk_stays(server, facts)
    if stays and host not in (None, source):
        raise ActionRefused(stays, code=409)
    if source and (host is None or stays):
        decision = placing.choose(server, facts, ledger, flavor, force_host=source)
        if isinstance(decision, NoValidHost) and stays:
            raise ActionRefused(f"The new flavor does not fit on {source}. {stays}", code=409)
        if isinstance(decision, NoValidHost):
            decision = placing.choose(server, facts, ledger, flavor)
    else:
        decision = placing.choose(server, facts, ledger, flavor, force_host=host, ignore=_away_from(source))
    return _moved(
        server, facts, ledger, decision, "resize", current=current, flavor=flavor, request_id=request_id, now=now
    )


def migrate(server: Server, facts: Facts, *, host: str | None, request_id: str, now: str) -> Move:
    """A cold migration to another host, keeping the source's claim until confirmed or reverted."""
    if stays := _disk_stays(server, facts):
        raise ActionRefused(stays, code=409)
    flavor = server.status["flavor"]
    ledger, current = _released(server, facts, keep_source=True)
    source = current.host if current else None
    decision = placing.choose(server, facts, ledger, flavor, force_host=host, ignore=_away_from(source))
    return _moved(
        server, facts, ledger, decision, "migration", current=current, flavor=flavor, request_id=request_id, now=now
    )


def live_migrate(server: Server, facts: Facts, *, host: str | None, request_id: str, now: str) -> Move:
    """A live migration (kubevirt): the destination claimed now and the source's claim kept until
    KubeVirt has moved the running instance (as Nova's Placement holds both during the move);
    the server's host changes only when it has (:mod:`kubenova.servers.live`)."""
    current = claims.from_status(server.status.get("claim"))
    source = current.host if current else None
    if host is not None and host == source:
        raise ActionRefused(f"Unable to migrate instance ({server.uid}) to current host ({host}).", code=400)
    if stays := _disk_stays(server, facts):
        raise ActionRefused(stays, code=409)
    flavor = server.status["flavor"]
    ledger, current = _released(server, facts, keep_source=True)
    decision = placing.choose(server, facts, ledger, flavor, force_host=host, ignore=_away_from(source))
    claim = _claimed(server, ledger, decision, now=now)
    status = server.status
    name = flavor.get("originalName")
    patch: Patch = {"claim": claims.to_status(claim), "availabilityZone": facts.zone(claim.host)}
    patch["migration"] = MigrationBody(
        kind="live-migration",
        sourceHost=source,
        destHost=claim.host,
        oldFlavor=name,
        newFlavor=name,
        status="accepted",
        previousVmState=status["vmState"],
        sourceClaim=claims.to_status(current) if current else None,
        sourceFlavor=None,
        requestId=request_id,
        created=now,
    )
    moved: dict[str, Claim | None] = {server.key: claim}
    if current is not None:
        moved[server.key + claims.SOURCE] = current
    return Move(patch, moved)


def evacuate(server: Server, facts: Facts, *, host: str | None, request_id: str, now: str) -> Move:
    """Rebuilt on another host because its own is down: nothing is kept on the source."""
    flavor = server.status["flavor"]
    current = claims.from_status(server.status.get("claim"))
    source = current.host if current else None
    if source is not None and facts.host_up(source):
        raise ActionRefused(f"Compute service of {source} is still in use.", code=400)
    if stays := _disk_stays(server, facts):
        raise ActionRefused(stays, code=409)
    ledger, current = _released(server, facts, keep_source=False)
    decision = placing.choose(server, facts, ledger, flavor, force_host=host, ignore=_away_from(source))
    return _moved(
        server, facts, ledger, decision, "evacuation", current=current, flavor=flavor, request_id=request_id, now=now
    )


def unshelve(server: Server, facts: Facts, *, host: str | None, request_id: str, now: str) -> Move:
    """An offloaded server placed again (it holds no claim; any host will do, its old one too)."""
    flavor = server.status["flavor"]
    ledger, _ = _released(server, facts, keep_source=False)
    decision = placing.choose(server, facts, ledger, flavor, force_host=host)
    claim = _claimed(server, ledger, decision, now=now)
    patch = placing.placed_on(server, facts, claim, revision=request_id) | {"flavor": flavor}
    return Move(patch, {server.key: claim})


MoveFn = Callable[..., Move]
KINDS: Mapping[Action, MoveFn] = {
    Action.REVERT_RESIZE: revert,
    Action.RESIZE: resize,
    Action.MIGRATE: migrate,
    Action.LIVE_MIGRATE: live_migrate,
    Action.EVACUATE: evacuate,
    Action.UNSHELVE: unshelve,
}


def of(action: Action, vm_state: str) -> MoveFn | None:
    """The move ``action`` makes from ``vm_state``, or None if it keeps the host and size
    (an unshelve moves only an offloaded server: a shelved one still has its host)."""
    if action is Action.UNSHELVE and vm_state != VmState.SHELVED_OFFLOADED:
        return None
    return KINDS.get(action)


def _away_from(source: str | None) -> frozenset[str]:
    return frozenset({source}) if source else frozenset()


def _released(server: Server, facts: Facts, *, keep_source: bool) -> tuple[Ledger, Claim | None]:
    """The ledger with the server's own claim released (and, for a move that keeps it, held
    again under the source key), and that claim."""
    ledger = facts.ledger()
    current = claims.from_status(server.status.get("claim"))
    if current is not None:
        ledger.release(server.key)
        if keep_source:
            ledger.claim(server.key + claims.SOURCE, current)
    return ledger, current


def _claimed(server: Server, ledger: Ledger, decision: Any, *, now: str) -> Claim:
    if isinstance(decision, NoValidHost):
        metrics.no_valid_host(decision)
        raise ActionRefused(faults.no_valid_host(decision.reasons(), now=now).message, code=500)
    claim = ledger.get(server.key)
    assert claim is not None
    return claim


def _moved(
    server: Server,
    facts: Facts,
    ledger: Ledger,
    decision: Any,
    kind: str,
    *,
    current: Claim | None,
    flavor: FlavorCopy,
    request_id: str,
    now: str,
) -> Move:
    """The move's claim and its migration record (Nova's os-migrations entry)."""
    claim = _claimed(server, ledger, decision, now=now)
    status = server.status
    keep_source = kind != "evacuation" and current is not None
    patch = placing.placed_on(server, facts, claim, revision=request_id) | {"flavor": flavor}
    patch["migration"] = MigrationBody(
        kind=kind,
        sourceHost=current.host if current else None,
        destHost=claim.host,
        oldFlavor=status["flavor"]["originalName"] if status.get("flavor") else None,
        newFlavor=flavor.get("originalName"),
        status="migrating" if keep_source else "accepted",
        previousVmState=status["vmState"],
        sourceClaim=claims.to_status(current) if keep_source and current else None,
        sourceFlavor=status.get("flavor") if keep_source else None,
        requestId=request_id,
        created=now,
    )
    moved: dict[str, Claim | None] = {server.key: claim}
    if keep_source and current is not None:
        moved[server.key + claims.SOURCE] = current
    return Move(patch, moved)


def _disk_stays(server: Server, facts: Facts) -> str | None:
    """Why the server's root disk cannot leave its host (its storage class), or None."""
    source = server.status.get("imageSource")
    if not source or not source.get("rootDisk"):
        return None
    return images.disk_stays(source, facts.storage_class(source.get("storageClass")))
