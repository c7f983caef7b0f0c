"""Servers deleted while the Server watch was away (kopf re-lists after kube-apiserver restarts
and never yields their DELETED event): which are candidates, which are gone, and forgetting one
drops its entries from kopf's indexes and runs the server handler's deleted path."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
import pytest
from kopf._core.engines.indexing import OperatorIndexer

from kubenova import config, vanished
from kubenova.handlers import server_index, servers, state
from kubenova.handlers import vanished as handler
from kubenova.kube.servers import Client


def test_a_known_server_not_listed_or_listed_with_another_uid_is_a_candidate() -> None:
    known = {"ns/a": "u1", "ns/b": "u2", "ns/c": "u3"}
    listed = {"ns/a": "u1", "ns/c": "u9", "ns/new": "u4"}
    assert vanished.candidates(known, listed) == ["ns/b", "ns/c"]
    assert vanished.candidates({}, listed) == []


def test_a_candidate_is_gone_unless_the_same_object_is_read_again() -> None:
    assert vanished.gone("u1", None)
    assert vanished.gone("u1", "u2")  # deleted and made again under its name
    assert not vanished.gone("u1", "u1")  # created after the list was read


def test_forgetting_drops_the_index_entries_and_runs_the_deleted_path(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))
    st = state.of(memo)
    indexer = st.indexers[cast(Any, server_index.INDEX)] = OperatorIndexer()
    h1 = (server_index.ON_HOST, "h1")
    indexer.replace(cast(Any, ("ns", "a", "u1")), {h1: "a on h1"})  # kopf's key: namespace, name, uid
    indexer.replace(cast(Any, ("ns", "b", "u2")), {h1: "b on h1"})
    st.server_uids.update({"ns/a": "u1", "ns/b": "u2"})
    seen: list[tuple[str, str, list[str]]] = []

    async def server_event(*, event: Any, name: str, **kw: Any) -> None:
        seen.append((event["type"], name, sorted(cast(list[str], server_index.on_host(kw, "h1")))))
        st.server_uids.pop(f"ns/{name}")

    monkeypatch.setattr(servers, "server_event", server_event)
    asyncio.run(handler.forget(memo, "ns", "a", "u1"))
    assert list(indexer.index[h1]) == ["b on h1"]
    assert seen == [("DELETED", "a", ["b on h1"])]
    assert st.server_uids == {"ns/b": "u2"}
