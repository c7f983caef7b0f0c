"""A Server's queued reconcile keeps kopf's indexes of its handler's keywords, and only those
(the event's own body would wait with it); they are picked out once per operator, not per event:
kopf hands every handler the same Index objects, live views."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
import pytest
from kopf._core.engines.indexing import OperatorIndexer

from kubenova import config
from kubenova.backends.workload import SERVER_LABEL
from kubenova.handlers import servers, state
from kubenova.kube.servers import Client


def test_the_indexes_are_picked_out_of_the_keywords_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def reconcile(namespace: str, name: str, *, indexes: dict[str, Any], **_: Any) -> None:
        seen.append((name, indexes))

    monkeypatch.setattr(servers, "reconcile", reconcile)
    memo = kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))
    index = OperatorIndexer().index
    handler: Any = servers.root_disk_event  # kopf's decorator types it as a WatchingFn

    async def go() -> None:
        await handler(namespace="ns", labels={SERVER_LABEL: "a"}, memo=memo, server_facts=index, body={"big": "body"})
        await handler(namespace="ns", labels={SERVER_LABEL: "b"}, memo=memo, server_facts=index)
        queue = state.of(memo).servers.queue
        await asyncio.wait_for(queue.join(), 5)
        await queue.close()

    asyncio.run(go())
    assert sorted(name for name, _ in seen) == ["a", "b"]
    (_, first), (_, second) = seen
    assert first == {"server_facts": index}
    assert first is second is state.of(memo).indexes
