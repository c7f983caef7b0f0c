"""The operator's shared state, made once when it starts (:func:`make`, called by
:func:`kubenova.operator.run`) and kept in kopf's memo as ``memo.state``; every handler reads
it with :func:`of`.

Made before kopf starts: kopf hands each object a shallow copy of the global memo, so state
added later by a handler would be private to that object (and a lock in it would guard nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping
from typing import Any

import kopf
from kopf._core.engines.indexing import OperatorIndexers  # kopf.operator's `indexers`, for embedding

from kubenova import config
from kubenova.handlers.placement import Placement
from kubenova.handlers.server_controller import Debounce, ServerController
from kubenova.hosts import NodeFacts, ServerOnHost
from kubenova.kube.servers import Client


@dataclasses.dataclass(frozen=True)
class OperatorState:
    settings: config.Settings
    client: Client
    """The one API client (see :mod:`kubenova.kube.client`)."""
    placement: Placement
    """The scheduler's lock and overlays."""
    servers: ServerController
    """The Server stream's locks and cache."""
    refresh: Debounce
    """Coalesced refreshes and retries (ServerGroup members, servers refused or failed)."""
    usage: Debounce
    """Usage summaries (a Host's, a namespace's Quota), at most one write per interval each."""
    server_hosts: dict[str, dict[str, ServerOnHost]]
    """What each server held on each host at its last event (a release leaves no trace in the new
    status)."""
    migration_records: dict[str, tuple[str, dict[str, Any]]]
    """Per server, the Migration record (name, status) this process wrote last."""
    security_labels: dict[str, tuple[str, ...]]
    """The groups each server's workload was last labelled for (or rendered with), by
    namespace/name: a server event relabels only when its groups changed since. After a restart a
    container server's Pod is checked by its own event (:attr:`security_unchecked`); a VM's
    template and launcher Pods are read once."""
    node_facts_reflected: dict[str, NodeFacts]
    """Each Node's facts as its Host's status last reflected them (:func:`.hosts.node_event`)."""
    security_unchecked: dict[str, tuple[str, ...]]
    """Container servers whose Pod's labels are not known to this process yet (it started with
    them running): the groups their Pod's next event checks it for, with no read."""
    pods_ahead: dict[str, dict[str, Any]]
    """Container servers' Pods seen before their server's event since this process started (the
    name, namespace and labels each carried): what the server's event checks, with no read."""
    defaulted_namespaces: set[str]
    """Namespaces whose ``default`` SecurityGroup this process made and its index has not shown yet."""
    closed_namespaces: set[str]
    """Namespaces whose closed-by-default NetworkPolicy this process has applied."""
    indexers: OperatorIndexers
    """kopf's indexes, handed to ``kopf.operator``: :mod:`.vanished` drops a deleted Server's entries."""
    server_uids: dict[str, str]
    """The uid of every Server this process has an event of, by "namespace/name"."""
    tasks: list[asyncio.Task[None]]
    """Background tasks (the :mod:`.vanished` sweeper), cancelled by :meth:`stop_background`."""
    indexes: dict[str, Any]
    """kopf's indexes by name, as handlers receive them among their keywords: picked out once
    (:meth:`indexes_in`)."""

    def indexes_in(self, kw: Mapping[str, Any]) -> dict[str, Any]:
        """kopf's indexes among a handler's keywords ``kw``, by name. Picked out of the first
        keywords that hold any, then kept: kopf hands every handler every index, and the same
        Index objects (live views) for the operator's life."""
        if not self.indexes:
            self.indexes.update((k, v) for k, v in kw.items() if isinstance(v, kopf.Index))
        return self.indexes

    async def stop_background(self) -> None:
        """Stop what runs in the background, at cleanup, before the client closes (what ran on
        after would only fail on it): the background tasks and the reconciles queued, awaited,
        then the pending refreshes (last: a sweep that forgets a Server, and a reconcile, ask
        for refreshes), which take no more."""
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.servers.queue.close()
        self.refresh.close()
        self.usage.close()


def make(settings: config.Settings, client: Client) -> OperatorState:
    return OperatorState(
        settings=settings,
        client=client,
        placement=Placement(),
        servers=ServerController(),
        refresh=Debounce(settings.refresh_delay_seconds),
        usage=Debounce(settings.refresh_delay_seconds, settings.usage_interval_seconds),
        server_hosts={},
        migration_records={},
        security_labels={},
        security_unchecked={},
        pods_ahead={},
        node_facts_reflected={},
        defaulted_namespaces=set(),
        closed_namespaces=set(),
        indexers=OperatorIndexers(),
        server_uids={},
        tasks=[],
        indexes={},
    )


def of(memo: kopf.Memo) -> OperatorState:
    state: OperatorState = memo.state
    return state
