"""Migration records (kubenova's own kind): made once per move, their status kept up to date.
Called by :mod:`kubenova.handlers.migrations`."""

from __future__ import annotations

from typing import Any

from lightkube import AsyncClient, codecs

from kubenova.kube import client as kube
from kubenova.kube import resources


async def ensure(client: AsyncClient, body: dict[str, Any], status: dict[str, Any]) -> None:
    """Create the record if absent (a retry adopts it) and write its status if it differs."""
    meta = body["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    found = await kube.get_dict(client, resources.Migration, name, namespace=namespace)
    if found is None:
        found = (await kube.create_or_adopt(client, codecs.from_dict(body))).to_dict()
    current = {k: v for k, v in (found.get("status") or {}).items() if k in status}
    if current != {k: v for k, v in status.items() if v is not None}:
        await kube.patch_status_if_exists(
            client, resources.Migration, meta["name"], status, namespace=meta["namespace"]
        )
