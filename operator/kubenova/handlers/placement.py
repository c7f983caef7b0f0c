"""The scheduler's inputs, from kopf indexes (never a list call): host states built from Hosts,
Nodes and Aggregates, and the claims recorded in Servers' statuses; and the indexes the Server
planner's :class:`~kubenova.servers.view.Facts` read (flavors, keypairs, server groups). Read by
the executor (:mod:`.server_executor`) and the Quota and ServerGroup handlers.

Each decision reads the claims of the ``server_claims`` index (kept summed as it changes, in
:class:`IndexedClaims`: re-summing every claim for every decision made a build's cost grow with the
servers already placed), plus the claims this process wrote that the index has not seen yet
(``pending``), all under one lock: so a restart loses nothing and two decisions in flight can never
oversubscribe a host.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, NamedTuple

import kopf

from kubenova import hosts as host_status
from kubenova import zones
from kubenova.api.common import GROUP, VERSION
from kubenova.config import Settings
from kubenova.handlers import common
from kubenova.quotas import ServerUsage
from kubenova.scheduling import filters
from kubenova.scheduling.claims import Claim, Ledger
from kubenova.scheduling.model import Hosts, HostState
from kubenova.servers import claims


class IndexedClaims:
    """The ``server_claims`` index as a :class:`Ledger`, changed server by server as the index is
    (by :func:`server_claims` on each Server event, by :func:`forget` on its deletion)."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self._keys: dict[str, tuple[str, ...]] = {}

    def update(self, server: str, held: dict[str, Claim]) -> None:
        """``server`` ("namespace/name") now holds exactly ``held`` (claim key → claim)."""
        for key in self._keys.pop(server, ()):
            if key not in held:
                self.ledger.release(key)
        for key, claim in held.items():
            if self.ledger.get(key) != claim:
                self.ledger.claim(key, claim)
        if held:
            self._keys[server] = tuple(held)

    def forget(self, server: str) -> None:
        self.update(server, {})


class IndexedUsage:
    """What the ``server_facts`` index says each namespace's accepted servers hold, summed as it
    changes (by :func:`kubenova.handlers.server_index.server_facts`, and on a deletion): a quota
    check reads a namespace's sums instead of adding up all its servers again."""

    def __init__(self) -> None:
        self.servers: dict[str, dict[str, ServerUsage]] = {}
        self.sums: dict[str, tuple[int, int, int]] = {}
        """instances, cores, ram by namespace."""

    def update(self, namespace: str, name: str, usage: ServerUsage | None) -> None:
        if usage is None and namespace not in self.servers:
            return
        held = self.servers.setdefault(namespace, {})
        old = held.pop(name, None)
        if old == usage and usage is not None:
            held[name] = usage
            return
        instances, cores, ram = self.sums.get(namespace, (0, 0, 0))
        if old is not None:
            instances, cores, ram = instances - 1, cores - old.cores, ram - old.ram
        if usage is not None:
            held[name] = usage
            instances, cores, ram = instances + 1, cores + usage.cores, ram + usage.ram
        if held:
            self.sums[namespace] = (instances, cores, ram)
        else:
            del self.servers[namespace]
            self.sums.pop(namespace, None)

    def forget(self, namespace: str, name: str) -> None:
        self.update(namespace, name, None)


_UNSEEN = object()


class HostInputs:
    """A count of the changes to what the hosts' states are made from (each Node's facts, each
    Host's spec, the Aggregates), kept by their index functions and deletion events: while it
    stands still, the last decision's hosts serve the next decision as they are. Comparing every
    host's facts for each decision was most of a decision's cost at 1,000 hosts, where most of the
    Host events a build brings are its own usage writes, which change none of them."""

    def __init__(self) -> None:
        self.changes = 0
        self._seen: dict[tuple[str, str], object] = {}

    def saw(self, kind: str, name: str, value: object) -> None:
        if self._seen.get((kind, name), _UNSEEN) != value:
            self._seen[(kind, name)] = value
            self.changes += 1

    def gone(self, kind: str, name: str) -> None:
        self._seen.pop((kind, name), None)
        self.changes += 1


@dataclasses.dataclass
class Placement:
    """The operator's scheduling state (in :class:`~kubenova.handlers.state.OperatorState`)."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    """Held for every decision that reads and changes the ledger or the quota overlay."""
    pending: dict[str, Claim | None] = dataclasses.field(default_factory=dict)
    """Claims written (or released) by this process, by server key, until the index shows them."""
    charged: dict[str, ServerUsage | None] = dataclasses.field(default_factory=dict)
    """Quota usage admitted (or freed) by this process, by server key, until the index shows it."""
    volume_holds: dict[str, dict[str, bool]] = dataclasses.field(default_factory=dict)
    """The claims each server holds (or only asks for) as this process last wrote its status, by
    server key: newer than the ``claim_users`` index, so two attaches of one claim made under the
    lock one after the other see each other."""
    indexed: IndexedClaims = dataclasses.field(default_factory=IndexedClaims)
    """The ``server_claims`` index, summed."""
    usage: IndexedUsage = dataclasses.field(default_factory=IndexedUsage)
    """The quota usage of the ``server_facts`` index, summed per namespace."""
    host_states: dict[str, tuple[Any, HostState]] = dataclasses.field(default_factory=dict)
    """Each host's last state, with the facts it was made from (see :func:`host_states`)."""
    last_hosts: Hosts | None = None
    """The hosts of the last decision, kept while their facts do not change (see :func:`hosts`)."""
    host_inputs: HostInputs = dataclasses.field(default_factory=HostInputs)
    """Changes to what host states are made from (see :func:`current_hosts`)."""
    hosts_stamp: tuple[int, int] | None = None
    """``host_inputs.changes`` and the count of Nodes when ``last_hosts`` was made."""


class AggregateMetadata(NamedTuple):
    """An aggregate a host is in, and its metadata (the ``aggregate_metadata`` index's value)."""

    name: str
    metadata: tuple[tuple[str, str], ...]


@kopf.index(GROUP, VERSION, "servers")
async def server_claims(
    *, namespace: str | None, name: str, status: kopf.Status, memo: kopf.Memo, **_: Any
) -> dict[str, Claim]:
    server = f"{namespace}/{name}"
    held = {f"{server}{suffix}": claim for suffix, claim in claims.claims_of(status).items()}
    placement: Placement = memo.state.placement  # (kubenova.handlers.state imports this module)
    placement.indexed.update(server, held)
    return held


@kopf.index(GROUP, VERSION, "aggregates")
async def aggregate_metadata(*, name: str, spec: kopf.Spec, memo: kopf.Memo, **_: Any) -> dict[str, AggregateMetadata]:
    items = tuple(sorted(dict(spec.get("metadata", {})).items()))
    found = dict.fromkeys(spec.get("hosts", []), AggregateMetadata(name, items))
    memo.state.placement.host_inputs.saw("aggregate-metadata", name, found)
    return found


@kopf.index(GROUP, VERSION, "flavors")
async def flavor_specs(*, name: str, spec: kopf.Spec, **_: Any) -> dict[str, dict[str, Any]]:
    return {name: dict(spec)}


@kopf.index(GROUP, VERSION, "keypairs")
async def keypair_keys(
    *, namespace: str | None, name: str, status: kopf.Status, **_: Any
) -> dict[tuple[str, str], str]:
    return {(namespace or "", name): status.get("publicKey") or ""}


@kopf.index(GROUP, VERSION, "servergroups")
async def server_group_specs(
    *, namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str], Any]:
    return {(namespace or "", name): dict(spec)}


def ledger(placement: Placement) -> Ledger:
    """Every claim: the index's, overlaid with this process's writes the index has not caught up with."""
    led = placement.indexed.ledger.copy()
    for key, claim in list(placement.pending.items()):
        current = placement.indexed.ledger.get(key)
        if current == claim:
            del placement.pending[key]  # the index has it now
        elif claim is None:
            led.release(key)
        else:
            led.claim(key, claim)
    return led


def current_hosts(conf: Settings, placement: Placement, ix: dict[str, Any]) -> Hosts:
    """The scheduler's hosts from kopf's indexes (``ix``): the last decision's while nothing
    they are made from changed (:class:`HostInputs`; the count of Nodes also catches a Node
    leaving the index without a deletion, such as one whose compute label was removed)."""
    stamp = (placement.host_inputs.changes, len(ix["node_facts"]))
    if placement.last_hosts is None or placement.hosts_stamp != stamp:
        states = host_states(
            conf,
            ix["node_facts"],
            ix["host_bodies"],
            ix["aggregate_metadata"],
            ix["host_aggregates"],
            made=placement.host_states,
        )
        hosts(placement, states)
        placement.hosts_stamp = stamp
    assert placement.last_hosts is not None
    return placement.last_hosts


def hosts(placement: Placement, states: list[HostState]) -> Hosts:
    """The scheduler's view of ``states``: the last one if no host fact changed since, so the
    verdicts it keeps (static filters, per kind of request) serve the next decision too."""
    last = placement.last_hosts
    if last is None or last.states != tuple(states):
        placement.last_hosts = last = Hosts(states)
    return last


def host_states(
    conf: Settings,
    node_facts: kopf.Index[str, host_status.NodeFacts],
    host_bodies: kopf.Index[str, Any],
    aggregate_metadata: kopf.Index[str, AggregateMetadata],
    host_aggregates: kopf.Index[str, Any],
    *,
    made: dict[str, tuple[Any, HostState]] | None = None,
) -> list[HostState]:
    """Every host's state. ``made`` keeps each host's state with the facts it was made from: a
    host whose facts did not change since keeps the same object, so that :func:`hosts` finds the
    last decision's hosts unchanged at the cost of comparing facts, not building a thousand states
    for each decision."""
    made = {} if made is None else made
    states = []
    # Every compute Node is a host. Its Host object (made by the operator when the Node appears)
    # only adds the admin's settings: a Node whose Host is not made yet (the operator has just
    # started) is an enabled host with the defaults, as its Host will say a moment later.
    for name in node_facts:
        node = common.first(node_facts, name)
        if node is None:
            continue
        body = common.first(host_bodies, name)
        spec = body[0] if body else {}
        facts = (node, spec, tuple(aggregate_metadata.get(name, ())), tuple(host_aggregates.get(name, ())))
        last = made.get(name)
        if last is None or last[0] != facts:
            last = made[name] = (facts, _host_state(conf, name, facts))
        states.append(last[1])
    if len(made) != len(states):  # a Node gone
        for name in made.keys() - {state.name for state in states}:
            del made[name]
    return states


def _host_state(conf: Settings, name: str, facts: tuple[Any, ...]) -> HostState:
    node, spec, aggregates, zone_aggregates = facts
    metadata: dict[str, set[str]] = {}
    for aggregate in aggregates:
        for k, v in aggregate.metadata:
            metadata.setdefault(k, set()).add(v)
    ratios = spec.get("allocationRatios") or {}
    return HostState(
        name=name,
        vcpus=node.vcpus,
        memory_mb=node.memory_mb,
        disk_gb=node.local_gb,
        enabled=bool(spec.get("enabled", True)),
        up=node.ready and not spec.get("forcedDown", False),
        zone=zones.zone_of(zone_aggregates),
        aggregates=tuple(sorted(a.name for a in aggregates)),
        metadata={k: frozenset(v) for k, v in metadata.items()},
        architecture=filters.canonical_arch(node.architecture) if node.architecture else None,
        reserved_memory_mb=int((spec.get("reserved") or {}).get("memoryMb", conf.reserved_host_memory_mb)),
        cpu_ratio=_ratio(ratios.get("cpu"), metadata.get("cpu_allocation_ratio"), conf.cpu_allocation_ratio),
        ram_ratio=_ratio(ratios.get("ram"), metadata.get("ram_allocation_ratio"), conf.ram_allocation_ratio),
        disk_ratio=_ratio(ratios.get("disk"), metadata.get("disk_allocation_ratio"), conf.disk_allocation_ratio),
    )


def _ratio(host: float | None, aggregate: set[str] | None, default: float) -> float:
    """The host's own ratio, else the smallest its aggregates give (as Nova's Aggregate*Filter), else the default."""
    if host:
        return float(host)
    values = []
    for v in aggregate or ():
        try:
            values.append(float(v))
        except ValueError:
            continue
    return min(values) if values else default
