"""The Server controller's kopf handlers: the dispatcher of the Server stream
(:func:`server_event`, which also feeds the Server metrics), the workload watches of every
backend, the quota retries and the Host maintenance; all end in :func:`reconcile`.

Level-triggered: a Server's own events and its workload's (Pod or VirtualMachine, found by the
server label), a Host's maintenance and a namespace's freed quota all end in :func:`reconcile`,
which runs the planner's :class:`~kubenova.handlers.server_executor.Executor` under the server's
lock. What this process wrote and saw (:mod:`.server_controller`) spares the reads and
reconciles of its own echoes.

Lasting state comes from the spec (``state``, ``rescue``, ``locked``, a changed ``flavor`` is a
resize, a changed ``image`` a rebuild); one-shot actions from ServerActions
(:mod:`kubenova.handlers.serveractions`), which start through the same planner and executor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import kopf

from kubenova import backends, metrics
from kubenova.api.common import GROUP, VERSION
from kubenova.backends.workload import SERVER_LABEL, Observation
from kubenova.handlers import groups, hosts, metering, migrations, quotas, securitygroups, server_index, state
from kubenova.handlers.common import lean
from kubenova.handlers.server_controller import NOT_GIVEN, Wanted, encode
from kubenova.handlers.server_executor import Executor
from kubenova.kube import servers as kube_servers
from kubenova.servers import claims

log = logging.getLogger(__name__)
LAUNCHER_LABEL = "kubevirt.io"
"""KubeVirt's label on the Pods it makes (``virt-launcher``)."""


@kopf.on.event(GROUP, VERSION, "servers", id="server-event")
async def server_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any
) -> None:
    """The Server stream's one handler. What else follows a Server (its host's usage, its group's
    members, its namespace's quota usage, its Migration records, its security groups' labels) is
    called from here instead of from more handlers: kopf's cost per handler per event was a sixth
    to a third of the operator's CPU per Server built (issue 13's profile)."""
    key = f"{namespace}/{name}"
    deleted = event["type"] == "DELETED"
    hosts.server_changed(key, body.get("status") or {}, deleted=deleted, memo=memo, kwargs=kw)
    groups.server_changed(namespace, body.get("spec") or {}, memo, kw)
    quotas.usage_changed(namespace, memo, kw)
    metering.observe_server(key, deleted=deleted, status=body.get("status") or {})
    await migrations.server_changed(key, body, deleted=deleted, memo=memo)
    await securitygroups.server_changed(key, body, deleted=deleted, memo=memo, kw=kw)
    if deleted:
        st = state.of(memo)
        # What its earlier events asked for is moot, and one running now ends before it is
        # forgotten (it would write the cache again).
        st.servers.queue.discard(key)
        async with st.servers.locks[key]:
            _forget(st, key, namespace or "", name)
        _retry_refused_soon(namespace or "", memo, kw)  # its quota is free again
        return
    state.of(memo).server_uids[key] = body.get("metadata", {}).get("uid", "")
    placed = bool((body.get("status") or {}).get("host") or body.get("metadata", {}).get("deletionTimestamp"))
    want(namespace or "", name, memo, kw, event_body=encode(lean(body)), placed=placed)


def _forget(st: state.OperatorState, key: str, namespace: str, name: str) -> None:
    """A deleted Server's traces in this process."""
    st.server_uids.pop(key, None)
    st.placement.pending[key] = st.placement.pending[key + claims.SOURCE] = None
    st.placement.charged[key] = None
    st.placement.indexed.forget(key)
    st.placement.usage.forget(namespace, name)
    st.placement.volume_holds.pop(key, None)
    st.servers.cache.forget(key)


def want(
    namespace: str,
    name: str,
    memo: kopf.Memo,
    kw: dict[str, Any],
    *,
    event_body: str | None = None,
    workload: Any = NOT_GIVEN,
    placed: bool = True,
) -> None:
    """Queue a reconcile of the Server (:class:`~.server_controller.WorkQueue`) with what its
    event carried; ``kw``: a handler's keywords, of which only kopf's indexes are kept (the
    event's own body would wait with it)."""
    indexes = state.of(memo).indexes_in(kw)

    async def run(wanted: Wanted) -> None:
        try:
            await reconcile(
                namespace,
                name,
                memo=memo,
                indexes=indexes,
                event_body=wanted.event_body,
                workload=wanted.seen(),
                echo_ends=not wanted.other,
            )
        except Exception:
            retry_soon(namespace, name, memo, indexes)
            raise

    queued = Wanted(run, event_body, workload, other=event_body is None, placed=placed)
    state.of(memo).servers.queue.add(f"{namespace}/{name}", queued)


def retry_soon(namespace: str, name: str, memo: kopf.Memo, indexes: dict[str, Any]) -> None:
    """Reconcile the Server again after a failed reconcile, through the refresh debounce (with a
    growing delay, until one goes through). kopf drops a failed event handler's event: a step
    refused for a passing reason (the namespace's default ServiceAccount not made yet,
    kube-apiserver restarting) would wait for the Server's next event, which may never come (a
    Server stuck in BUILD/spawning, or left on a Host in maintenance)."""
    key = f"server-retry/{namespace}/{name}"
    state.of(memo).refresh.soon(key, lambda: reconcile(namespace, name, memo=memo, indexes=indexes))


@kopf.on.event(GROUP, VERSION, "quotas", id="quota-retries")
async def quota_event(*, namespace: str | None, memo: kopf.Memo, **kw: Any) -> None:
    """A limit raised (or the Quota gone, back to the defaults): try the refused servers again."""
    _retry_refused_soon(namespace or "", memo, kw)


def _retry_refused_soon(namespace: str, memo: kopf.Memo, indexes: dict[str, Any]) -> None:
    """Servers refused for quota are accepted once there is room, as a Deployment's Pods are
    created once a ResourceQuota allows: GitOps users need not delete and re-apply them. Tried
    in name order, coalesced, each under the scheduler's lock like any create; one still over
    quota writes nothing."""
    if not server_index.quota_refused(indexes, namespace):
        return

    async def retry() -> None:
        for name in sorted(server_index.quota_refused(indexes, namespace)):
            await reconcile(namespace, name, memo=memo, indexes=indexes)

    state.of(memo).refresh.soon(f"quota-retry/{namespace}", retry)


def _watch_workloads(backend: backends.Backend) -> None:
    """The workload events of one backend (Pods, VirtualMachines), found by the server label."""
    group, _, version = backend.API_VERSION.rpartition("/")

    # A virt-launcher Pod carries its VM's labels (the server label too), as KubeVirt copies them:
    # it is the VM backend's, not a container server's Pod.
    pods = backend.PLURAL == "pods"
    labels: dict[str, Any] = {SERVER_LABEL: kopf.PRESENT}
    if pods:
        labels[LAUNCHER_LABEL] = kopf.ABSENT

    @kopf.on.event(group, version, backend.PLURAL, labels=labels, id=f"server-{backend.KIND}")
    async def workload_event(
        *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any
    ) -> None:
        seen = None if event["type"] == "DELETED" else dict(body)
        server = labels[SERVER_LABEL]
        _workload_event(namespace or "", server, backend.observe(seen), memo, kw, seen=seen)
        if pods:  # a container server's labels are checked from its Pod's events (restart, too)
            await securitygroups.pod_seen(f"{namespace}/{server}", seen, memo=memo)


for _backend in backends.BACKENDS.values():
    _watch_workloads(_backend)


@kopf.on.event("cdi.kubevirt.io", "v1beta1", "datavolumes", labels={SERVER_LABEL: kopf.PRESENT}, id="server-root-disk")
async def root_disk_event(*, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any) -> None:
    """A root disk's import moving on (or failing): the server building on it follows."""
    want(namespace or "", labels[SERVER_LABEL], memo, kw)


def _workload_event(
    namespace: str,
    server: str,
    obs: Observation,
    memo: kopf.Memo,
    kw: dict[str, Any],
    *,
    seen: dict[str, Any] | None = None,
) -> None:
    if state.of(memo).servers.cache.observed.get(f"{namespace}/{server}") == obs:
        return  # nothing Nova would see changed since the server last acted on its workload
    want(namespace, server, memo, kw, workload=None if seen is None else encode(lean(seen)))


@kopf.on.event(GROUP, VERSION, "hosts", id="host-maintenance")
async def host_maintenance_event(*, name: str, spec: kopf.Spec, memo: kopf.Memo, **kw: Any) -> None:
    """A Host entering or leaving maintenance: reconcile the servers on it (they stop or move,
    or start again). Only when the maintenance changes, not on each usage update of the Host."""
    seen = state.of(memo).servers.maintenance
    mode = spec.get("maintenance")
    if seen.get(name) == mode:
        return
    seen[name] = mode
    for held in server_index.on_host(kw, name):
        namespace, server = held.namespace, held.name
        try:
            await reconcile(namespace, server, memo=memo, indexes=kw)
        except Exception:
            # One server that cannot move now (kube-apiserver restarting, its namespace being
            # deleted) must not keep the others on the host from moving, and is retried: the
            # maintenance is seen already, and the server's own next event may never come (the
            # apiserver-faults test found two Pods left on the host for good).
            log.exception("host %s: server %s/%s did not follow the maintenance; retrying", name, namespace, server)
            retry_soon(namespace, server, memo, kw)


CONFLICTS_RETRIED = 3
"""Status writes refused as stale (409) in one reconcile before it gives up (the refresh retry then)."""


@metrics.timed("Server")
async def reconcile(
    namespace: str,
    name: str,
    *,
    memo: kopf.Memo,
    indexes: dict[str, Any],
    event_body: str | None = None,
    workload: dict[str, Any] | None = None,
    echo_ends: bool = True,
) -> None:
    """Steps for the Server ``namespace/name``; ``indexes`` are kopf's, as handlers receive them.
    ``event_body``: the Server as its watch event carried it, :func:`lean`, as JSON (see
    :mod:`.server_controller`); ``workload``: its workload, as a workload event carried it.
    ``echo_ends``: an ``event_body`` that is our own write's echo means there is nothing to do
    (not so when another event was folded into the same reconcile)."""
    key = f"{namespace}/{name}"
    st = state.of(memo)
    async with st.servers.locks[key]:
        cache = st.servers.cache
        server: dict[str, Any] | None
        if event_body is not None:
            echo, server = cache.event(key, event_body)
            if echo:
                if echo_ends:
                    return  # our own write, acted on when it was made
                server = cache.bodies.get(key)
        else:
            server = cache.bodies.get(key)
        if server is None:
            server = await kube_servers.load(st.client, namespace, name)
            cache.read(key, server)
        if server is None:
            return
        for attempt in range(CONFLICTS_RETRIED + 1):
            executor = Executor(server, memo, indexes, workload, guarded=True)
            try:
                await executor.run()
                break
            except kube_servers.ApiError as exc:
                cache.forget(key)
                if not kube_servers.is_conflict(exc) or attempt == CONFLICTS_RETRIED:
                    raise
                # Planned from a body older than the Server is (the chaos test found an old body,
                # after the operator's own later writes, start a shelve again over a finished
                # offload, losing its records and leaving a task no event would end): plan again
                # from a fresh read (and read the workload afresh too).
                workload = None
                server = await kube_servers.load(st.client, namespace, name)
                cache.read(key, server)
                if server is None:
                    return
            except BaseException:
                # A step cut short may have written a state it did not act on: forget what we wrote,
                # so that its echo (and the next workload event) reconciles again from a fresh read.
                cache.forget(key)
                raise
    if executor.woken:
        wake(executor.woken, memo, indexes)


def wake(claims: Iterable[str], memo: kopf.Memo, indexes: dict[str, Any]) -> None:
    """Soon (coalesced, outside any server's lock), reconcile the servers that ask for one of
    ``claims`` ("namespace/name") and do not hold it: the claim appeared, or another server let
    it go."""
    for claim in claims:
        namespace, _, name = claim.partition("/")

        async def retry(namespace: str = namespace, name: str = name) -> None:
            users = sorted(server_index.claim_users(indexes, namespace, name))
            for server, holds in users:
                if holds:
                    continue
                try:
                    await reconcile(namespace, server, memo=memo, indexes=indexes)
                except Exception:
                    # One server that cannot go on (its namespace being deleted, say) must not
                    # keep the others waiting for the claim; it is retried by itself.
                    log.exception("claim %s/%s: server %s did not go on; retrying", namespace, name, server)
                    retry_soon(namespace, server, memo, indexes)

        state.of(memo).refresh.soon(f"claim/{claim}", retry)
