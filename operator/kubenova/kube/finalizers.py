"""The Server's own finalizer: added before anything is claimed for it, removed once its
workload is gone and its claims are released. Called by the Server executor
(:mod:`kubenova.handlers.server_executor`).

Not kopf's finalizer: kopf removes its finalizer from objects it has no delete handler for,
and kubenova's Server handlers are ``on.event`` handlers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType

from kubenova.api.common import GROUP
from kubenova.kube import client as kube
from kubenova.kube import resources

SERVER = f"{GROUP}/server-cleanup"


def has(meta: Mapping[str, Any]) -> bool:
    return SERVER in meta.get("finalizers", [])


async def add(client: AsyncClient, meta: Mapping[str, Any]) -> dict[str, Any]:
    """Add the finalizer to the Server ``meta`` describes; the Server as stored after."""
    obj = await _set(client, meta, [*meta.get("finalizers", []), SERVER])
    body: dict[str, Any] = obj.to_dict()
    return body


async def remove(client: AsyncClient, meta: Mapping[str, Any]) -> None:
    """Remove it (the API server then deletes the Server, once no other finalizer holds it). A
    Server already gone is done: another reconcile (or its namespace's deletion) got there first."""
    try:
        await _set(client, meta, [f for f in meta.get("finalizers", []) if f != SERVER])
    except ApiError as exc:
        if not kube.is_not_found(exc):
            raise


async def _set(client: AsyncClient, meta: Mapping[str, Any], finalizers: Sequence[str]) -> Any:
    return await client.patch(
        resources.Server,
        meta["name"],
        {"metadata": {"finalizers": list(finalizers) or None}},
        namespace=meta["namespace"],
        patch_type=PatchType.MERGE,
    )
