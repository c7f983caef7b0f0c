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

from collections.abc import AsyncIterator
from typing import Any

from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.config.client_adapter import verify_cluster
from lightkube.core.resource import Resource
from lightkube.types import PatchType

from kubenova.kube import direct, transport

FIELD_MANAGER = "kubenova"


METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
"""The API server's answer to a list with metadata only (no spec, no status) in each item."""

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


async def list_metadata(
    client: AsyncClient, res: type[Resource], *, namespace: str | None = None, chunk_size: int = 500
) -> AsyncIterator[dict[str, Any]]:
    """The ``metadata`` of each object of kind ``res`` (in ``namespace``: ``lightkube.ALL_NS`` for
    every namespace), as plain JSON-like data: one list in chunks, whose items the API server
    sends without spec or status (a PartialObjectMetadataList). For a caller that needs names and
    uids only, a list's cost is then its objects' metadata, not their whole bodies.

    lightkube's ``list`` sets no Accept header of its own: this builds the same request through
    its generic client (a private attribute of the pinned lightkube) with one, and reads the items
    as dicts (their kind is PartialObjectMetadata, not ``res``). It still goes through httpx, as
    every list does (:mod:`.direct`)."""
    generic = client._client
    request = generic.prepare_request(
        "list", res=res, namespace=namespace, params={"limit": chunk_size}, headers={"Accept": METADATA_LIST}
    )
    request.response_type = dict  # type: ignore[assignment]  # lightkube decodes items into any dict class
    async for item in generic.list(request):
        meta: dict[str, Any] = item["metadata"]
        yield meta


def is_not_found(exc: ApiError) -> bool:
    """The object (or its namespace) does not exist: 404."""
    return bool(exc.status.code == 404)


def is_conflict(exc: ApiError) -> bool:
    """A create found the name taken, or an update lost a race on resourceVersion: 409."""
    return bool(exc.status.code == 409)
