"""The ClusterKopfPeering object that keeps one operator replica active.

kopf patches its heartbeat into the object but never creates it, and a missing object silently
means no peering at all (two replicas would both work). So the operator makes it at start-up
(:mod:`kubenova.operator`), which lets the Helm chart leave it out: a chart cannot create an
object of a CRD it installs in the same release.
"""

from __future__ import annotations

from lightkube import ApiError, AsyncClient, codecs
from lightkube.generic_resource import create_global_resource

from kubenova.api import peering
from kubenova.kube import client as kube

ClusterKopfPeering = create_global_resource(peering.PEERING_GROUP, "v1", "ClusterKopfPeering", "clusterkopfpeerings")


async def ensure(client: AsyncClient, name: str) -> bool:
    """Create the peering object ``name`` unless it exists; True if this call made it.

    A get first, so that a restart (the usual case) needs no create permission to succeed,
    and a 409 from a replica racing us counts as existing.
    """
    try:
        await client.get(ClusterKopfPeering, name)
        return False
    except ApiError as exc:
        if not kube.is_not_found(exc):
            raise
    try:
        await client.create(codecs.from_dict(peering.peering_object(name)))
    except ApiError as exc:
        if not kube.is_conflict(exc):
            raise
        return False
    return True
