"""Construction of the operator's API client, and the few generic calls every handler needs.

One ``lightkube.AsyncClient`` per operator process, made at start-up and kept in kopf's memo.
lightkube is async (so handlers never block kopf's event loop, which the sync ``kubernetes``
client would) and typed. Calls here are idempotent where a retry or a restart may repeat them:
creating what already exists adopts it instead of failing.
"""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.core.resource import Resource
from lightkube.types import PatchType

FIELD_MANAGER = "kubenova"


def make() -> AsyncClient:
    """A client from the in-cluster service account, or else the current kubeconfig."""
    return AsyncClient(field_manager=FIELD_MANAGER)


async def patch_status(
    client: AsyncClient,
    res: type[Resource],
    name: str,
    status: dict[str, Any],
    *,
    namespace: str | None = None,
) -> Any:
    """Merge-patch the status subresource (never the spec: kubenova is GitOps-safe); the object
    as stored after the patch."""
    return await client.patch(
        res.Status,  # type: ignore[attr-defined]
        name,
        {"status": status},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )


async def create_or_adopt(client: AsyncClient, obj: Any) -> Any:
    """Create ``obj``; if one of that name exists already (a retry, a restart), return it."""
    try:
        return await client.create(obj)
    except ApiError as exc:
        if exc.status.code != 409:
            raise
    return await client.get(type(obj), obj.metadata.name, namespace=obj.metadata.namespace)


async def delete_if_exists(client: AsyncClient, res: Any, name: str, *, namespace: str | None = None) -> None:
    try:
        await client.delete(res, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code != 404:
            raise


async def get_dict(client: AsyncClient, res: Any, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
    """The object as plain JSON-like data, or None if it does not exist."""
    try:
        obj = await client.get(res, name, namespace=namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    result: dict[str, Any] = obj.to_dict()
    return result


def is_not_found(exc: ApiError) -> bool:
    return bool(exc.status.code == 404)
