"""Migration records follow the Server stream: each Server event whose latest move (its
``status.migration``) is new or has a new status makes or updates that move's Migration (see
:mod:`kubenova.servers.records`). What this process wrote last is remembered, so the many Server
events of a server that is not moving cost no API call. Called for each Server event by
:mod:`kubenova.handlers.servers`' one handler (one kopf handler per event: see there).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from kubenova.handlers import state
from kubenova.kube import migrations
from kubenova.kube import servers as kube_servers
from kubenova.servers import records

log = logging.getLogger(__name__)


async def server_changed(key: str, body: Mapping[str, Any], *, deleted: bool, memo: kopf.Memo) -> None:
    written = state.of(memo).migration_records
    namespace = body["metadata"].get("namespace")
    if deleted:
        written.pop(key, None)  # its records go with it (owner references)
        return
    record = records.of_server(dict(body))
    if record is None or body["metadata"].get("deletionTimestamp"):
        return
    if written.get(key) == (record.name, record.status):
        return
    try:
        await migrations.ensure(state.of(memo).client, record.body, record.status)
    except kube_servers.ApiError as exc:  # its namespace going away, say: the next event retries
        log.info("migration record %s/%s not written: %s", namespace, record.name, exc)
        return
    written[key] = (record.name, record.status)
