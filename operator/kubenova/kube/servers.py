"""The calls the Server executor (:mod:`kubenova.handlers.server_executor`) and the ServerAction
handler make on Servers and ServerActions: read one, write a status, record a ServerAction's
phase, and an Event about a Server. Each returns plain JSON-like data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from lightkube import ALL_NS, ApiError, AsyncClient

from kubenova.api.common import API_VERSION
from kubenova.kube import client as kube
from kubenova.kube import events, resources

Client = AsyncClient
"""The API client's type, for the handlers that hold one (they never import lightkube)."""

__all__ = [
    "ApiError",
    "Client",
    "is_conflict",
    "load",
    "load_action",
    "patch_action",
    "patch_status",
    "post_event",
    "settle_action",
    "uids",
]
is_conflict = kube.is_conflict


async def load(client: AsyncClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get_dict(client, resources.Server, name, namespace=namespace)


async def uids(client: AsyncClient) -> dict[str, str]:
    """Every Server's uid by "namespace/name": one list of all namespaces, in chunks, of the
    Servers' metadata only (their specs and statuses are most of their bytes)."""
    return {
        f"{meta['namespace']}/{meta['name']}": meta["uid"]
        async for meta in kube.list_metadata(client, resources.Server, namespace=ALL_NS)
    }


async def patch_status(
    client: AsyncClient, namespace: str, name: str, patch: Mapping[str, Any], *, resource_version: str | None = None
) -> dict[str, Any]:
    """Merge-patch the Server's status (only over ``resource_version``, if given: else 409, see
    :func:`is_conflict`); the Server as stored after it."""
    obj = await kube.patch_status(
        client, resources.Server, name, dict(patch), namespace=namespace, resource_version=resource_version
    )
    body: dict[str, Any] = obj.to_dict()  # lightkube's to_dict is untyped
    return body


async def load_action(client: AsyncClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get_dict(client, resources.ServerAction, name, namespace=namespace)


async def patch_action(client: AsyncClient, namespace: str, name: str, patch: dict[str, Any]) -> None:
    await kube.patch_status(client, resources.ServerAction, name, patch, namespace=namespace)


async def settle_action(client: AsyncClient, namespace: str, name: str, patch: dict[str, Any]) -> None:
    """Record an action's end in the ServerAction that asked for it, unless it is gone."""
    try:
        await patch_action(client, namespace, name, patch)
    except ApiError as exc:
        if not kube.is_not_found(exc):  # deleted meanwhile: nothing to record in
            raise


async def post_event(
    client: AsyncClient,
    meta: Mapping[str, Any],
    *,
    type: Literal["Normal", "Warning"],
    reason: str,
    action: str,
    note: str,
) -> None:
    """An Event about the Server ``meta`` describes (never raises: see :mod:`.events`)."""
    regarding = {"apiVersion": API_VERSION, "kind": "Server", "metadata": meta}
    await events.post(client, regarding, type=type, reason=reason, action=action, note=note)
