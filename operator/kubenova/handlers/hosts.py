"""Host discovery: every Node with the compute label gets a Host, and each Host's status follows
its Node, its spec, its aggregates and the servers placed on it.

Both a Node event and a Host event end in :func:`reconcile`, which computes the status with
:func:`kubenova.hosts.status` and writes it only when it differs, so heartbeats and resyncs cost
no writes. The facts come from kopf indexes, never from a list call; the writes (the Host, its
status, the Node's zone label) go through :mod:`kubenova.kube`.

A deleted Node leaves its Host down, never silently dropped while servers are placed on it;
with no servers on it the Host is deleted, as Nova removes a compute service that hosts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from kubenova import conditions, hosts, labels, metrics, zones
from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import common, server_index, state
from kubenova.kube import client as kube
from kubenova.kube import nodes, resources
from kubenova.servers import claims

log = logging.getLogger(__name__)
COMPUTE = {labels.COMPUTE_HOST: "true"}


# --- indexes: in-memory views the handlers (and the scheduler) read ---------------------------


@kopf.index("", "v1", "nodes", labels=COMPUTE)
async def node_facts(*, body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[str, hosts.NodeFacts]:
    facts = hosts.NodeFacts.from_node(body)
    state.of(memo).placement.host_inputs.saw("node", facts.name, facts)
    return {facts.name: facts}


@kopf.index(GROUP, VERSION, "hosts")
async def host_bodies(
    *, name: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, memo: kopf.Memo, **_: Any
) -> dict[str, hosts.HostBody]:
    body = hosts.HostBody(dict(spec), dict(status), meta.get("generation"))
    state.of(memo).placement.host_inputs.saw("host", name, body.spec)  # its status is no input
    return {name: body}


@kopf.index(GROUP, VERSION, "aggregates")
async def host_aggregates(
    *, name: str, spec: kopf.Spec, memo: kopf.Memo, **_: Any
) -> dict[str, tuple[str, str | None]]:
    zone = spec.get("availabilityZone")
    found = dict.fromkeys(spec.get("hosts", []), (name, zone))
    state.of(memo).placement.host_inputs.saw("aggregate-zones", name, found)
    return found


# --- handlers ---------------------------------------------------------------------------------


@kopf.on.event("", "v1", "nodes", labels=COMPUTE, id="node-event")
async def node_event(*, event: kopf.RawEvent, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    deleted = event["type"] == "DELETED"
    reflected = state.of(memo).node_facts_reflected
    if deleted:
        state.of(memo).placement.host_inputs.gone("node", name)
        reflected.pop(name, None)
    if common.first(kwargs["host_bodies"], name) is None:
        if deleted:
            return
        await _create_host(memo, name)
        return  # the Host's own event fills its status
    facts = None if deleted else common.first(kwargs["node_facts"], name)
    if facts is not None and reflected.get(name) == facts:
        # A heartbeat: nothing a Host reflects changed (its spec, aggregates and usage have their
        # own events). With 1,000 Nodes that is about 30 events a second, each a status computed
        # for nothing.
        return
    await reconcile(name, memo=memo, node_deleted=deleted, **kwargs)
    if facts is not None:
        reflected[name] = facts


@kopf.on.event(GROUP, VERSION, "hosts", id="host-event")
async def host_event(*, event: kopf.RawEvent, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    if event["type"] == "DELETED":
        state.of(memo).placement.host_inputs.gone("host", name)
        return
    await reconcile(name, memo=memo, **kwargs)


@kopf.on.event(GROUP, VERSION, "aggregates", id="aggregate-hosts")
async def aggregate_event(*, event: kopf.RawEvent, spec: kopf.Spec, memo: kopf.Memo, name: str, **kwargs: Any) -> None:
    # ``name`` is the aggregate's, kept out of ``kwargs``: reconcile takes the host's name.
    # A host leaving an aggregate is not in the index any more; recompute all named hosts and
    # let the comparison skip those that did not change.
    if event["type"] == "DELETED":
        for kind in ("aggregate-metadata", "aggregate-zones"):
            state.of(memo).placement.host_inputs.gone(kind, name)
    for host in spec.get("hosts", []):
        await reconcile(host, memo=memo, **kwargs)


@metrics.timed("Host")
async def reconcile(
    name: str,
    *,
    memo: kopf.Memo,
    node_facts: kopf.Index[str, hosts.NodeFacts],
    host_bodies: kopf.Index[str, hosts.HostBody],
    host_aggregates: kopf.Index[str, tuple[str, str | None]],
    server_facts: kopf.Index[tuple[str, ...], Any],
    node_deleted: bool = False,
    usage_due: bool = False,
    **_: Any,
) -> None:
    """``usage_due``: called for a usage write (:func:`server_changed`); otherwise (a Node's or
    the Host's own event) a usage write already pending keeps the reported usage until it runs."""
    current: hosts.HostBody | None = common.first(host_bodies, name)
    if current is None:
        return
    spec, status, generation = current
    node = None if node_deleted else common.first(node_facts, name)
    # A host's usage is its claims (a server being moved holds its source host too).
    servers = server_index.on_host({server_index.INDEX: server_facts}, name)
    if node is None and not servers:
        log.info("host %s: its Node is gone and no server is placed on it; deleting the Host", name)
        await kube.delete_if_exists(state.of(memo).client, resources.Host, name)
        return
    aggregates = list(host_aggregates[name]) if name in host_aggregates else []
    zone = zones.zone_of(aggregates)
    conf = state.of(memo).settings
    desired = hosts.status(
        node=node,
        spec=spec,
        generation=generation,
        previous=status,
        usage=hosts.Usage.of(servers),
        reserved_memory_mb=hosts.reserved_memory_mb(spec, conf.reserved_host_memory_mb),
        ratios=hosts.allocation_ratios(
            spec, cpu=conf.cpu_allocation_ratio, ram=conf.ram_allocation_ratio, disk=conf.disk_allocation_ratio
        ),
        zone=zone,
        aggregates=[a for a, _ in aggregates],
        now=common.now(),
        report_usage=usage_due or usage_key(name) not in state.of(memo).usage.pending,
    )
    if conditions.differs(status, desired):
        await kube.patch_status_if_exists(state.of(memo).client, resources.Host, name, desired)
    if node is not None and node.zone_label != zone:
        # The zone as a Node label, for tooling that reads topology from Nodes (spread
        # constraints, dashboards); the only write kubenova makes to a Node.
        await nodes.label(state.of(memo).client, name, {labels.AVAILABILITY_ZONE: zone})


async def _create_host(memo: kopf.Memo, name: str) -> None:
    await nodes.create_host(state.of(memo).client, name)
    log.info("host %s: discovered a compute Node; created its Host", name)


def server_changed(
    key: str, status: Mapping[str, Any], *, deleted: bool, memo: kopf.Memo, kwargs: dict[str, Any]
) -> None:
    """A server placed on (or gone from) a host changes that host's usage: the hosts where what it
    holds changed since its last event (a release leaves no trace in the new status). Called for
    each Server event by :mod:`kubenova.handlers.servers`' one handler; most of a server's events
    (its own writes' echoes, ACTIVE) change nothing any host reports, and ask for no refresh."""
    seen: dict[str, dict[str, hosts.ServerOnHost]] = state.of(memo).server_hosts
    namespace, _, name = key.partition("/")
    now = {} if deleted else _held(namespace, name, status)
    before = seen.pop(key, {})
    if now:
        seen[key] = now
    for host in sorted(now.keys() | before.keys()):
        if now.get(host) != before.get(host):
            _refresh_soon(host, memo, kwargs)


def _held(namespace: str, name: str, status: Mapping[str, Any]) -> dict[str, hosts.ServerOnHost]:
    """What the server holds on each host, as the ``server_facts`` index has it (less its uid: a
    server deleted and made again has a DELETED event between)."""
    return hosts.held_on_hosts(namespace, name, "", claims.claims_of(status).values(), runs=hosts.running(status))


def usage_key(host: str) -> str:
    """The host's key in the usage debounce (``OperatorState.usage``)."""
    return f"host/{host}"


def _refresh_soon(host: str, memo: kopf.Memo, indexes: dict[str, Any]) -> None:
    """Recompute ``host``'s usage after a short delay, and at most once per usage interval
    (``KUBENOVA_USAGE_INTERVAL_SECONDS``).

    Like Nova's resource tracker, a Host's reported usage may trail its claims: the scheduler
    reads claims from the Servers' statuses (never from Host status), so nothing is
    oversubscribed meanwhile. Coalescing turns the placements on one host within an interval
    into one status write instead of one per server.
    """
    state.of(memo).usage.soon(usage_key(host), lambda: reconcile(host, memo=memo, usage_due=True, **indexes))
