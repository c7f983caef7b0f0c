"""A Server's moves as Migration records (Nova's os-migrations): the record of the move in its
status (``status.migration``), as the Migration object's name, spec and status. Pure; the
Server-stream handler :mod:`kubenova.handlers.migrations` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from kubenova.api.common import API_VERSION
from kubenova.backends.workload import MANAGED_BY, SERVER_LABEL

ENDED = frozenset({"finished", "confirmed", "reverted", "done", "completed", "error", "cancelled", "failed"})
"""Nova's statuses of a move that has ended (a resize or cold migration is finished until
confirmed or reverted: it has ended as a move)."""


class Record(NamedTuple):
    name: str
    body: dict[str, Any]
    """The Migration to create (spec only: its status is written next)."""
    status: dict[str, Any]


def name_of(server: str, request_id: str) -> str:
    """A move's record: the server's name and the move's request id (also the name of a live
    migration's VirtualMachineInstanceMigration)."""
    return f"{server}-{request_id.removeprefix('req-')[:8]}"[:63]


def of_server(body: Mapping[str, Any]) -> Record | None:
    """The record of the server's latest move, or None (no move, or one made before records
    carried their request id)."""
    meta, status = body["metadata"], body.get("status") or {}
    m = status.get("migration") or {}
    if not m.get("requestId") or not m.get("kind"):
        return None
    name = name_of(meta["name"], m["requestId"])
    spec = {
        "server": meta["name"],
        "serverUid": meta["uid"],
        "migrationType": m["kind"],
        "sourceCompute": m.get("sourceHost"),
        "destCompute": m.get("destHost"),
        "oldFlavor": m.get("oldFlavor"),
        "newFlavor": m.get("newFlavor"),
        "requestId": m["requestId"],
        "createdAt": m.get("created") or status.get("updated") or meta.get("creationTimestamp"),
    }
    manifest = {
        "apiVersion": API_VERSION,
        "kind": "Migration",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {SERVER_LABEL: meta["name"], **MANAGED_BY},
            "ownerReferences": [
                {"apiVersion": API_VERSION, "kind": "Server", "name": meta["name"], "uid": meta["uid"]}
            ],
        },
        "spec": {k: v for k, v in spec.items() if v is not None},
    }
    state, updated = m.get("status"), status.get("updated")
    ready = {
        "type": "Ready",
        "status": "True" if state in ENDED else "False",
        "reason": "Ended" if state in ENDED else "InProgress",
        "message": f"Nova migration status {state}.",
        "lastTransitionTime": updated,
    }
    return Record(name, manifest, {"status": state, "updatedAt": updated, "conditions": [ready]})
