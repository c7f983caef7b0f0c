"""The writes host discovery makes: a Host for each compute Node, and labels on the Node.

Called by :mod:`kubenova.handlers.hosts`. kubenova never changes a Node's spec or status; the
labels it sets (the availability zone, :mod:`kubenova.labels`) are for other tooling to read.
"""

from __future__ import annotations

from collections.abc import Mapping

from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Node
from lightkube.types import PatchType

from kubenova.kube import client as kube
from kubenova.kube import resources


async def label(client: AsyncClient, name: str, labels: Mapping[str, str]) -> None:
    """Set ``labels`` on the Node ``name`` (a merge patch: its other labels stay as they are)."""
    await client.patch(Node, name, {"metadata": {"labels": dict(labels)}}, patch_type=PatchType.MERGE)


async def create_host(client: AsyncClient, name: str) -> None:
    """Create the Host of the compute Node ``name``, enabled; adopt it if it exists already."""
    host = resources.Host(
        metadata=ObjectMeta(name=name, labels={"app.kubernetes.io/managed-by": "kubenova"}),
        spec={"enabled": True},
    )
    await kube.create_or_adopt(client, host)
