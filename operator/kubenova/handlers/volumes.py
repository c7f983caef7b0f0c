"""Volumes: what the Server planner needs to know of PersistentVolumeClaims, from kopf indexes
(never a list call), and the PVC events that let a server waiting for its claim go on.

* ``volume_claims``: every claim's access modes, storage class and selected node, by (namespace,
  name): a claim in the index exists (Nova's "volume could not be found" otherwise),
  ReadWriteMany is Nova's multiattach, and a ReadWriteOnce claim on a node-bound class keeps its
  server from moving (:mod:`kubenova.servers.storage`).
* the servers that hold a claim (attached, attaching, or booted from it) or ask for it in
  ``spec.volumes``: :func:`kubenova.handlers.server_index.claim_users`.

A claim that appears (or changes) reconciles the servers that ask for it and lack it; a server
that lets a claim go wakes the others (:func:`kubenova.handlers.servers.wake`).
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova.handlers import servers
from kubenova.servers import storage


@kopf.index("", "v1", "persistentvolumeclaims")
async def volume_claims(
    *, namespace: str | None, name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any
) -> dict[Any, Any]:
    # The storage class and selected node: whether the claim can follow a server to another host.
    summary = {"accessModes": list(spec.get("accessModes") or []), "storageClassName": spec.get("storageClassName")}
    if node := (meta.get("annotations") or {}).get(storage.SELECTED_NODE):
        summary["selectedNode"] = node
    return {(namespace or "", name): summary}


@kopf.on.event("", "v1", "persistentvolumeclaims", id="volume-claim-event")
async def claim_event(*, event: kopf.RawEvent, namespace: str | None, name: str, memo: kopf.Memo, **kw: Any) -> None:
    """A claim made (or changed): the servers asking for it try again."""
    if event["type"] != "DELETED":
        servers.wake((f"{namespace}/{name}",), memo, kw)
