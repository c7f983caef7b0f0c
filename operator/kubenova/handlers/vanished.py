"""Servers deleted while the Server watch was away: found, and forgotten as their DELETED event
would have made this process forget them.

After kube-apiserver restarts, kopf's watch asks to resume from a resource version the new watch
cache does not have (410 Gone), lists the Servers again and goes on from the list. It yields
what it lists, and nothing for a Server deleted in between (its finalizer removed by this very
operator right after the restart, say): kopf keeps that Server's index entries for good, and
every summary computed from them with them (its Host's usage and server list, the scheduler's
ledger, its namespace's quota usage). The apiserver-faults integration test found a Host counting
a deleted server's claim.

So every ``vanished_sweep_seconds`` (60 s by default) the Servers are listed (one chunked list of
all namespaces, of their metadata only: names and uids are all it compares), and each one this
process has an event of and that is not listed is read again; one that is gone loses its index
entries and goes through the DELETED path of :func:`kubenova.handlers.servers.server_event`.

Why list, not read what this process holds: what it holds (kopf's indexes, the Server cache) is
what went stale. Only the API server knows which Servers are gone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from kubenova import vanished
from kubenova.handlers import servers, state
from kubenova.kube import servers as kube_servers

log = logging.getLogger(__name__)


@kopf.on.startup(id="vanished-sweeper")
async def start(memo: kopf.Memo, **_: Any) -> None:
    """Start the sweeper; :meth:`~kubenova.handlers.state.OperatorState.stop_background` stops it."""
    st = state.of(memo)
    if st.settings.vanished_sweep_seconds > 0:
        st.tasks.append(asyncio.create_task(_sweep_forever(memo), name="vanished-sweeper"))


async def _sweep_forever(memo: kopf.Memo) -> None:
    every = state.of(memo).settings.vanished_sweep_seconds
    while True:
        await asyncio.sleep(every)
        try:
            await sweep(memo)
        except Exception:  # the API server away again: the next sweep tries again
            log.exception("looking for servers deleted unseen failed")


async def sweep(memo: kopf.Memo) -> list[str]:
    """Forget the Servers deleted unseen; their keys."""
    st = state.of(memo)
    listed = await kube_servers.uids(st.client)
    forgotten = []
    for key in vanished.candidates(dict(st.server_uids), listed):
        uid = st.server_uids.get(key)
        namespace, _, name = key.partition("/")
        found = await kube_servers.load(st.client, namespace, name)
        if uid is None or not vanished.gone(uid, (found or {}).get("metadata", {}).get("uid")):
            continue
        if st.server_uids.get(key) != uid:
            continue  # its DELETED event (or a new Server's under its name) came meanwhile
        await forget(memo, namespace, name, uid)
        forgotten.append(key)
    return forgotten


async def forget(memo: kopf.Memo, namespace: str, name: str, uid: str) -> None:
    """Do what the Server's DELETED event would have done: drop its index entries, then the
    server handler's deleted path (its hosts' usage, its quota, its group, the overlays)."""
    st = state.of(memo)
    last = st.servers.cache.bodies.get(f"{namespace}/{name}") or {}
    raw: Any = {**last, "metadata": {**last.get("metadata", {}), "namespace": namespace, "name": name, "uid": uid}}
    body = kopf.Body(raw)
    st.indexers.discard(body)
    log.info("server %s/%s: deleted while the watch was away; forgotten", namespace, name)
    handler: Any = servers.server_event  # kopf's decorator types it as a WatchingFn
    await handler(event={"type": "DELETED", "object": raw}, body=body, namespace=namespace, name=name, memo=memo,
                  **dict(st.indexers.indices))  # fmt: skip
