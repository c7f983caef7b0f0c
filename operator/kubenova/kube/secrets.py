"""Secrets that kubenova keeps for an object it owns: read back only if that object owns them,
created with an owner reference so Kubernetes' garbage collector deletes them with their owner.

Called by :mod:`kubenova.handlers.keypairs` (the private half of a generated key pair). Data goes
in and comes out as text: the base64 of the wire is this module's business, not the caller's.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.core_v1 import Secret

from kubenova.kube import client as kube


class NotOwned(Exception):
    """A Secret of that name exists but belongs to another object (or to nobody): kubenova never
    reads nor overwrites what a user made."""


@dataclasses.dataclass(frozen=True)
class Owner:
    """The object a Secret belongs to (its controller, in owner-reference terms)."""

    api_version: str
    kind: str
    name: str
    uid: str


async def owned_data(client: AsyncClient, name: str, namespace: str, owner: Owner) -> dict[str, str] | None:
    """The decoded data of the Secret ``name`` if ``owner`` owns it; None if there is no such Secret.

    Raises :class:`NotOwned` if the Secret exists and ``owner`` is not among its owners.
    """
    try:
        existing = await client.get(Secret, name, namespace=namespace)
    except ApiError as exc:
        if kube.is_not_found(exc):
            return None
        raise
    owners = existing.metadata.ownerReferences if existing.metadata else None
    if not owners or all(o.uid != owner.uid for o in owners):
        raise NotOwned(f"Secret {namespace}/{name} is not owned by {owner.kind} {owner.name}")
    return _decoded(existing.data)


async def create_owned(
    client: AsyncClient,
    name: str,
    namespace: str,
    owner: Owner,
    *,
    secret_type: str,
    data: Mapping[str, str],
    labels: Mapping[str, str],
) -> dict[str, str]:
    """Create the Secret ``name`` owned by ``owner``; the data as stored.

    If one of that name exists already (a previous attempt that failed after its create), it is
    adopted and its data returned instead: the first key pair made is the one that stays.
    """
    secret = Secret(
        metadata=ObjectMeta(
            name=name,
            namespace=namespace,
            labels=dict(labels),
            ownerReferences=[
                OwnerReference(
                    apiVersion=owner.api_version,
                    kind=owner.kind,
                    name=owner.name,
                    uid=owner.uid,
                    controller=True,
                    blockOwnerDeletion=True,
                )
            ],
        ),
        type=secret_type,
        stringData=dict(data),
    )
    stored = await kube.create_or_adopt(client, secret)
    return _decoded(stored.data) if stored.data else dict(data)


def _decoded(data: Mapping[str, str] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (data or {}).items()}
