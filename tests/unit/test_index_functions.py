"""kopf keeps an object's old index entries when its indexer returns None (it replaces them
only for a result that is not None): so an indexer whose object stops holding something must
return {} -- else an offloaded server's released claim stays counted by its Host and the
scheduler for good (found by the chaos test)."""

from __future__ import annotations

from typing import Any

from kubenova.handlers import hosts, indexes, placement

CLAIM = {"host": "h1", "vcpus": 1, "memoryMb": 256, "diskGb": 0}


def call(fn: Any, status: dict[str, Any]) -> Any:
    return fn(namespace="ns", name="s1", uid="u1", status=status, spec={})


def test_server_indexers_return_an_empty_dict_once_nothing_is_held() -> None:
    offloaded = {"status": "SHELVED_OFFLOADED", "vmState": "shelved_offloaded"}
    assert call(hosts.host_servers, offloaded) == {}
    assert call(placement.server_claims, offloaded) == {}
    assert call(indexes.quota_refused, offloaded) == {}


def test_they_index_what_is_held() -> None:
    assert set(call(hosts.host_servers, {"claim": CLAIM})) == {"h1"}
    assert len(call(placement.server_claims, {"claim": CLAIM})) == 1
