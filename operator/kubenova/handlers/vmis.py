"""The VirtualMachineInstance watch: a kubevirt server's addresses follow its running instance,
and a server with a live migration in flight reconciles when its instance or migration moves.

KubeVirt reports a VM's addresses only in its instance's ``status.interfaces`` (the VM itself
has none), so each instance event with addresses that differ from the server's status writes
them (one status write, under the server's lock, remembered as our own so its echo is skipped).
An instance that goes or reports nothing leaves the addresses as they are: a stopped server's
are cleared by its stop, and a restarting one keeps its fixed addresses, as Nova's do.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova.backends.workload import SERVER_LABEL
from kubenova.handlers import servers, state
from kubenova.kube import servers as kube_servers
from kubenova.servers import addresses


@kopf.index("kubevirt.io", "v1", "virtualmachineinstances", labels={SERVER_LABEL: kopf.PRESENT})
async def evacuating_instances(
    *, namespace: str | None, labels: kopf.Labels, status: kopf.Status, **_: Any
) -> dict[tuple[str, str], str]:
    """The servers whose instance KubeVirt asks to leave its node: with evictionStrategy
    External, virt-api answers a drain's eviction of the launcher Pod by setting
    ``status.evacuationNodeName`` and leaves the move to kubenova (see backends/kubevirt.py)."""
    node = status.get("evacuationNodeName")
    if not node or node != status.get("nodeName"):
        return {}  # not None: kopf would keep the mark of an instance that has moved
    return {(namespace or "", labels[SERVER_LABEL]): str(node)}


@kopf.on.event(
    "kubevirt.io", "v1", "virtualmachineinstances", labels={SERVER_LABEL: kopf.PRESENT}, id="server-instance"
)
async def instance_event(
    *, event: kopf.RawEvent, body: kopf.Body, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any
) -> None:
    namespace, name = namespace or "", labels[SERVER_LABEL]
    found = addresses.of_instance(None if event["type"] == "DELETED" else dict(body))
    if found is not None:
        await _record(namespace, name, found, memo)
    await servers.reconcile(namespace, name, memo=memo, indexes=kw)


@kopf.on.event(
    "kubevirt.io", "v1", "virtualmachineinstancemigrations", labels={SERVER_LABEL: kopf.PRESENT}, id="server-migration"
)
async def migration_event(*, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kw: Any) -> None:
    await servers.reconcile(namespace or "", labels[SERVER_LABEL], memo=memo, indexes=kw)


async def _record(namespace: str, name: str, found: list[dict[str, Any]], memo: kopf.Memo) -> None:
    key = f"{namespace}/{name}"
    st = state.of(memo)
    async with st.servers.locks[key]:
        cache = st.servers.cache
        server = cache.bodies.get(key)
        if server is None:
            server = await kube_servers.load(st.client, namespace, name)
            cache.read(key, server)
        if server is None or server["metadata"].get("deletionTimestamp"):
            return
        if (server.get("status") or {}).get("addresses") == found:
            return
        try:
            body = await kube_servers.patch_status(st.client, namespace, name, {"addresses": found})
        except kube_servers.ApiError:
            cache.forget(key)  # gone meanwhile, or a stale read: the next event reads it afresh
            return
        cache.wrote(key, body)
