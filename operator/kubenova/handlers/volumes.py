"""Volumes: what the Server planner needs to know of PersistentVolumeClaims, from kopf indexes
(never a list call), and the PVC events that let a server waiting for its claim go on.

* ``volume_claims``: every claim's access modes, by (namespace, name): a claim in the index
  exists (Nova's "volume could not be found" otherwise), and ReadWriteMany is Nova's multiattach.
* ``claim_users``: the servers that hold a claim (attached, attaching, or booted from it) or ask
  for it in ``spec.volumes``, by (namespace, claim).

A claim that appears (or changes) reconciles the servers that ask for it and lack it; a server
that lets a claim go wakes the others (:func:`kubenova.handlers.servers.wake`).
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova.api.common import GROUP, VERSION
from kubenova.handlers import servers
from kubenova.servers import volumes


@kopf.index("", "v1", "persistentvolumeclaims")
async def volume_claims(*, namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[Any, Any]:
    return {(namespace or "", name): {"accessModes": list(spec.get("accessModes") or [])}}


@kopf.index(GROUP, VERSION, "servers")
async def claim_users(
    *, namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[Any, Any]:
    # Always a dict, {} included: kopf keeps an object's old entries when its indexer returns None.
    held = volumes.held(spec, status)
    return {(namespace or "", claim): (name, holds) for claim, holds in held.items()}


@kopf.on.event("", "v1", "persistentvolumeclaims", id="volume-claim-event")
async def claim_event(*, event: kopf.RawEvent, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any) -> None:
    """A claim made (or changed): the servers asking for it try again."""
    if event["type"] != "DELETED":
        servers.wake((f"{namespace}/{name}",), memo, kw)
