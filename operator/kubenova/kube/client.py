"""Construction of the operator's API client, and the few generic calls every handler needs.

One ``lightkube.AsyncClient`` per operator process, made at start-up (:mod:`kubenova.operator`)
and kept in kopf's memo; the handlers pass it to the calls here and in the other modules of this
package. lightkube is async (so handlers never block kopf's event loop, which the sync
``kubernetes`` client would) and typed. Calls here are idempotent where a retry or a restart may
repeat them: creating what already exists adopts it instead of failing.

Two clients hold credentials: kopf's own (its watches and peering, logged in by
``kubenova.operator.login``) and this one (every write kubenova makes). Both must resolve to the
same identity, so RBAC and audit logs see one operator: each tries the in-cluster service account
first and then the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``); change one, change both.
"""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.config.client_adapter import verify_cluster
from lightkube.core.resource import Resource
from lightkube.types import PatchType

from kubenova.kube import direct, transport

FIELD_MANAGER = "kubenova"


MAX_CONNECTIONS = 16
"""Requests in flight to the API server at once; more wait for a free connection. kopf runs a
handler per object at once: a build of 1,000 servers had ~100 requests in flight, and httpx's
default pool then closed the connections over 20 after one use (a TLS handshake each)."""


def make() -> AsyncClient:
    """A client from the in-cluster service account, or else the current kubeconfig, whose
    requests travel through aiohttp (:mod:`kubenova.kube.transport`: why), those for one object
    without httpx (:mod:`kubenova.kube.direct`: why)."""
    single = KubeConfig.from_env().get()
    if single is None or single.user is None:
        raise RuntimeError("no current context in the kubeconfig")
    tls = verify_cluster(single.cluster, single.user, single.abs_file)
    return direct.Client(
        single, field_manager=FIELD_MANAGER, transport=transport.AiohttpTransport(tls, limit=MAX_CONNECTIONS)
    )


async def patch_status(
    client: AsyncClient,
    res: type[Resource],
    name: str,
    status: dict[str, Any],
    *,
    namespace: str | None = None,
    resource_version: str | None = None,
) -> Any:
    """Merge-patch the status subresource (never the spec: kubenova is GitOps-safe); the object
    as stored after the patch. With ``resource_version``, only if the object is still at it
    (the API server answers 409 otherwise): a status computed from that version is not merged
    over a newer one."""
    guard = {"metadata": {"resourceVersion": resource_version}} if resource_version else {}
    return await client.patch(
        res.Status,  # type: ignore[attr-defined]
        name,
        {"status": status, **guard},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )


async def patch_status_if_exists(
    client: AsyncClient,
    res: type[Resource],
    name: str,
    status: dict[str, Any],
    *,
    namespace: str | None = None,
) -> Any:
    """:func:`patch_status`, or None if the object (or its namespace) was deleted meanwhile: an
    event handler may run after the object is gone (created and deleted at once), and there is
    then no status to write."""
    try:
        return await patch_status(client, res, name, status, namespace=namespace)
    except ApiError as exc:
        if not is_not_found(exc):
            raise
    return None


async def create_or_adopt(client: AsyncClient, obj: Any) -> Any:
    """Create ``obj``; if one of that name exists already (a retry, a restart), return it."""
    try:
        return await client.create(obj)
    except ApiError as exc:
        if not is_conflict(exc):
            raise
    return await client.get(type(obj), obj.metadata.name, namespace=obj.metadata.namespace)


async def delete_if_exists(
    client: AsyncClient, res: Any, name: str, *, namespace: str | None = None, grace_period: int | None = None
) -> None:
    try:
        await client.delete(res, name, namespace=namespace, grace_period=grace_period)
    except ApiError as exc:
        if not is_not_found(exc):
            raise


async def get_dict(client: AsyncClient, res: Any, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
    """The object as plain JSON-like data, or None if it does not exist."""
    try:
        obj = await client.get(res, name, namespace=namespace)
    except ApiError as exc:
        if is_not_found(exc):
            return None
        raise
    result: dict[str, Any] = obj.to_dict()
    return result


def is_not_found(exc: ApiError) -> bool:
    """The object (or its namespace) does not exist: 404."""
    return bool(exc.status.code == 404)


def is_conflict(exc: ApiError) -> bool:
    """A create found the name taken, or an update lost a race on resourceVersion: 409."""
    return bool(exc.status.code == 409)
