"""Metrics from the objects' own events: servers by status and backend (:func:`observe_server`,
called by the Server stream's dispatcher, :func:`kubenova.handlers.servers.server_event`, for
every event, its own writes' echoes included), hosts' capacity and usage (a handler on the Host
stream). No extra API calls; see :mod:`kubenova.metrics`. The handler is async, though it never
waits: kopf runs a sync handler in a thread, and a thread hop per event costs more than the
handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from kubenova import metrics
from kubenova.api.common import GROUP, VERSION


def observe_server(key: str, *, deleted: bool, status: Mapping[str, Any]) -> None:
    if deleted or not status.get("status"):
        # Not counted until the operator has given it a Nova status.
        metrics.forget_server(key)
        return
    metrics.observe_server(key, status["status"], status.get("backend") or "")


@kopf.on.event(GROUP, VERSION, "hosts", id="host-metrics")
async def host_metrics(*, event: kopf.RawEvent, name: str, status: kopf.Status, **_: Any) -> None:
    if event["type"] == "DELETED":
        metrics.forget_host(name)
        return
    metrics.observe_host(name, dict(status))
