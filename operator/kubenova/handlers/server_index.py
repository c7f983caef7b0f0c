"""Four read models of the Server stream, kept in one kopf index (``server_facts``), and a fifth
(each namespace's quota usage) kept summed beside it (:class:`~kubenova.handlers.placement.IndexedUsage`).

Why one: kopf calls every index function of a kind on every event of that kind, each through
its full invocation machinery (a cause, its keyword arguments, an outcome); measured during a
build (issue 13), the Server stream's six indexes were a fifth of the operator's CPU, for a few
dictionary lookups each. One function fills all four views; its keys are tagged with the view
they belong to, and the functions below read one view each. ``server_claims``
(:mod:`kubenova.handlers.placement`) stays an index of its own, summed into the scheduler's ledger.
The quota usage is summed, not listed: a quota check that added up every server of a namespace
cost each create more as the namespace grew.

The views, by key:

* ``(QUOTA_REFUSED, namespace)``: the servers refused for quota, tried again when there is room.
* ``(GROUP_MEMBER, namespace, group)``: the servers that name a ServerGroup in their hints.
* ``(ON_HOST, host)``: what each server holds on a host (a moving server holds two).
* ``(CLAIM_USER, namespace, claim)``: the servers that hold a PersistentVolumeClaim (attached,
  attaching or booted from it), or ask for it in ``spec.volumes``: ``(server, holds)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kopf

from kubenova import hosts, quotas
from kubenova.api.common import GROUP, VERSION
from kubenova.servers import claims, volumes

if TYPE_CHECKING:
    from kubenova.handlers.placement import Placement

INDEX = "server_facts"
QUOTA_REFUSED = "quota-refused"
GROUP_MEMBER = "group-member"
ON_HOST = "on-host"
CLAIM_USER = "claim-user"


@kopf.index(GROUP, VERSION, "servers")
async def server_facts(
    *, namespace: str | None, name: str, uid: str, spec: kopf.Spec, status: kopf.Status, memo: kopf.Memo, **_: Any
) -> dict[tuple[str, ...], Any]:
    # Always a dict, {} included: kopf keeps an object's old entries when its indexer returns None.
    placement: Placement = memo.state.placement  # (kubenova.handlers.state imports this module)
    placement.usage.update(namespace or "", name, quotas.server_usage(name, status))
    return facts(namespace or "", name, uid, spec, status)


def facts(
    namespace: str, name: str, uid: str, spec: Mapping[str, Any], status: Mapping[str, Any]
) -> dict[tuple[str, ...], Any]:
    """The server's entries in every view (pure: the index function's whole work)."""
    out: dict[tuple[str, ...], Any] = {}
    if quotas.refused(status):
        out[(QUOTA_REFUSED, namespace)] = name
    if group := (spec.get("schedulerHints") or {}).get("group"):
        out[(GROUP_MEMBER, namespace, group)] = name
    held_claims = claims.claims_of(status).values()
    for host, held in hosts.held_on_hosts(namespace, name, uid, held_claims, runs=hosts.running(status)).items():
        out[(ON_HOST, host)] = held
    for claim, holds in volumes.held(spec, status).items():
        out[(CLAIM_USER, namespace, claim)] = (name, holds)
    return out


def _values(indexes: Mapping[str, Any], key: tuple[str, ...]) -> list[Any]:
    index = indexes[INDEX]
    return list(index[key]) if key in index else []


def quota_refused(indexes: Mapping[str, Any], namespace: str) -> list[str]:
    return _values(indexes, (QUOTA_REFUSED, namespace))


def group_members(indexes: Mapping[str, Any], namespace: str, group: str) -> list[str]:
    return _values(indexes, (GROUP_MEMBER, namespace, group))


def on_host(indexes: Mapping[str, Any], host: str) -> list[hosts.ServerOnHost]:
    """A copy: the index is a live view, which reconciles change while a caller iterates."""
    return _values(indexes, (ON_HOST, host))


def claim_users(indexes: Mapping[str, Any], namespace: str, claim: str) -> list[tuple[str, bool]]:
    return _values(indexes, (CLAIM_USER, namespace, claim))
