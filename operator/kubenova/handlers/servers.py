"""Servers: validate, schedule and claim, make the workload, carry out Nova's actions, and mirror
Nova's states.

Level-triggered: a Server's own events and its workload's (Pod or VirtualMachine, found by the
server label), a Host's maintenance and a namespace's freed quota all end in :func:`reconcile`,
which runs a :class:`~kubenova.handlers.server_step.Step` under the server's lock. What this
process wrote and saw (:mod:`.server_cache`) spares the reads and reconciles of its own echoes.

Lasting state comes from the spec (``state``, ``rescue``, ``locked``, a changed ``flavor`` is a
resize, a changed ``image`` a rebuild); one-shot actions from ServerActions
(:mod:`kubenova.handlers.serveractions`), which call ``Step.begin`` like the spec does.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from lightkube import ApiError

from kubenova import lifecycle, metrics
from kubenova.api.common import GROUP, VERSION
from kubenova.backends import container, kubevirt
from kubenova.backends.servers import SERVER_LABEL
from kubenova.handlers import common, placement, server_cache, workloads
from kubenova.handlers.server_step import Step, load

log = logging.getLogger(__name__)


@kopf.on.event(GROUP, VERSION, "servers", id="server-event")
async def server_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any
) -> None:
    key = f"{namespace}/{name}"
    if event["type"] == "DELETED":
        p = placement.of(memo)
        p.pending[key] = p.pending[key + lifecycle.SOURCE] = None
        p.charged[key] = None
        server_cache.of(memo).forget(key)
        _retry_refused_soon(namespace or "", memo, kw)  # its quota is free again
        return
    await reconcile(namespace or "", name, memo=memo, indexes=kw, event_body=dict(body))


@kopf.on.event(GROUP, VERSION, "quotas", id="quota-retries")
async def quota_event(*, namespace: str | None, memo: kopf.Memo, **kw: Any) -> None:
    """A limit raised (or the Quota gone, back to the defaults): try the refused servers again."""
    _retry_refused_soon(namespace or "", memo, kw)


def _retry_refused_soon(namespace: str, memo: kopf.Memo, indexes: dict[str, Any]) -> None:
    """Servers refused for quota are accepted once there is room, as a Deployment's Pods are
    created once a ResourceQuota allows: GitOps users need not delete and re-apply them. Tried
    in name order, coalesced, each under the scheduler's lock like any create; one still over
    quota writes nothing."""
    if namespace not in indexes["quota_refused"]:
        return

    async def retry() -> None:
        for name in sorted(indexes["quota_refused"].get(namespace, [])):
            await reconcile(namespace, name, memo=memo, indexes=indexes)

    common.soon(memo, f"quota-retry/{namespace}", retry)


@kopf.on.event("", "v1", "pods", labels={SERVER_LABEL: kopf.PRESENT}, id="server-pod-event")
async def pod_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any
) -> None:
    obs = container.observe(None if event["type"] == "DELETED" else dict(body))
    await _workload_event(namespace or "", labels[SERVER_LABEL], obs, memo, kw)


@kopf.on.event("kubevirt.io", "v1", "virtualmachines", labels={SERVER_LABEL: kopf.PRESENT}, id="server-vm-event")
async def vm_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any
) -> None:
    obs = kubevirt.observe(None if event["type"] == "DELETED" else dict(body))
    await _workload_event(namespace or "", labels[SERVER_LABEL], obs, memo, kw)


async def _workload_event(namespace: str, server: str, obs: Any, memo: kopf.Memo, indexes: dict[str, Any]) -> None:
    if server_cache.of(memo).observed.get(f"{namespace}/{server}") == obs:
        return  # nothing Nova would see changed since the server last acted on its workload
    await reconcile(namespace, server, memo=memo, indexes=indexes)


@kopf.on.event(GROUP, VERSION, "hosts", id="host-maintenance")
async def host_maintenance_event(*, name: str, spec: kopf.Spec, memo: kopf.Memo, **kw: Any) -> None:
    """A Host entering or leaving maintenance: reconcile the servers on it (they stop or move,
    or start again). Only when the maintenance changes, not on each usage update of the Host."""
    seen: dict[str, str | None] = memo["maintenance"]  # made in the global memo (see operator.run)
    mode = spec.get("maintenance")
    if seen.get(name) == mode:
        return
    seen[name] = mode
    for namespace, server, *_ in list(kw["host_servers"].get(name, [])):  # a live view; reconciles change it
        try:
            await reconcile(namespace, server, memo=memo, indexes=kw)
        except (ApiError, workloads.ActionFailed):
            # One server that cannot move (its namespace being deleted, say) must not keep the
            # others on the host from moving; its own next event retries it.
            log.exception("host %s: server %s/%s did not follow the maintenance", name, namespace, server)


@metrics.timed("Server")
async def reconcile(
    namespace: str,
    name: str,
    *,
    memo: kopf.Memo,
    indexes: dict[str, Any],
    event_body: dict[str, Any] | None = None,
) -> None:
    """Steps for the Server ``namespace/name``; ``indexes`` are kopf's, as handlers receive them.
    ``event_body``: the Server as its watch event carried it (see :mod:`.server_cache`)."""
    key = f"{namespace}/{name}"
    async with placement.of(memo).server_locks[key]:
        cache = server_cache.of(memo)
        server: dict[str, Any] | None
        if event_body is not None:
            echo, server = cache.event(key, event_body)
            if echo:
                return  # our own write, acted on when it was made
        else:
            server = cache.bodies.get(key)
        if server is None:
            server = await load(common.client(memo), namespace, name)
            cache.read(key, server)
        if server is None:
            return
        try:
            await Step(server, memo, indexes).run()
        except BaseException:
            # A step cut short may have written a state it did not act on: forget what we wrote,
            # so that its echo (and the next workload event) reconciles again from a fresh read.
            cache.forget(key)
            raise
