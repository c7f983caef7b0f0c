"""Metrics from the objects' own events: servers by status and backend, hosts' capacity and
usage. Separate handlers on the same watch streams kopf already has open (no extra API calls),
so the lifecycle handlers carry no metrics code; see :mod:`kubenova.metrics`. Async, though they
never wait: kopf runs a sync handler in a thread, and a thread hop per event costs more than
the handler.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubenova import metrics
from kubenova.api.common import GROUP, VERSION


@kopf.on.event(GROUP, VERSION, "servers", id="server-metrics")
async def server_metrics(
    *, event: kopf.RawEvent, namespace: str | None, name: str, status: kopf.Status, **_: Any
) -> None:
    key = f"{namespace}/{name}"
    if event["type"] == "DELETED" or not status.get("status"):
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
