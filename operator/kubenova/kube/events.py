"""Kubernetes Events for what kubenova does to an object: Nova actions and faults, as
``kubectl describe`` and ``kubectl events`` show them.

kopf's own event posting is off (see :mod:`kubenova.operator`), so these are the only Events the
operator writes: one when an action finishes or fails, one when an action is refused or a fault
is recorded, never one for a resync that changed nothing (callers post only on a change).
A failure to post is logged, never raised: an Event is a courtesy, not part of the state.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from lightkube import ApiError, AsyncClient, codecs

log = logging.getLogger(__name__)
CONTROLLER = "compute.kubenova.io/operator"
_INSTANCE = os.environ.get("POD_NAME") or socket.gethostname()


def render(
    regarding: Mapping[str, Any],
    *,
    type: Literal["Normal", "Warning"],
    reason: str,
    action: str,
    note: str,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """An ``events.k8s.io/v1`` Event about ``regarding`` (an object's apiVersion, kind and metadata)."""
    meta = regarding["metadata"]
    when = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
            "namespace": meta.get("namespace") or "default",
        },
        "eventTime": when,
        "reportingController": CONTROLLER,
        "reportingInstance": _INSTANCE,
        "action": action[:128],
        "reason": reason[:128],
        "note": note[:1024],
        "type": type,
        "regarding": {
            "apiVersion": regarding["apiVersion"],
            "kind": regarding["kind"],
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
    }


async def post(client: AsyncClient, regarding: Mapping[str, Any], **kwargs: Any) -> None:
    try:
        await client.create(codecs.from_dict(render(regarding, **kwargs)))
    except ApiError as exc:
        log.warning("could not post an Event about %s: %s", regarding["metadata"].get("name"), exc.status.message)
