"""The Server stream's one index: each view gets what its old index held."""

from __future__ import annotations

from kubenova import hosts, quotas
from kubenova.handlers import server_index as ix
from kubenova.handlers.placement import IndexedUsage

ACCEPTED = {
    "flavor": {"name": "m1.small", "vcpus": 1, "ram": 1024, "disk": 5},
    "claim": {"host": "h1", "vcpus": 1, "memoryMb": 1024, "diskGb": 5},
}
MOVING = {**ACCEPTED, "migration": {"sourceClaim": {"host": "h0", "vcpus": 1, "memoryMb": 1024, "diskGb": 5}}}


def index_of(*entries: dict[tuple[str, ...], object]) -> dict[str, dict[tuple[str, ...], list[object]]]:
    """kopf's index as the handlers receive it (key → the values of every object), from facts."""
    out: dict[tuple[str, ...], list[object]] = {}
    for facts in entries:
        for key, value in facts.items():
            out.setdefault(key, []).append(value)
    return {ix.INDEX: out}


def test_an_empty_server_is_in_no_view() -> None:
    assert ix.facts("ns", "s", "u", {}, {}) == {}


def test_a_server_in_a_group_with_a_volume_is_in_both_views() -> None:
    spec = {"schedulerHints": {"group": "g"}, "volumes": [{"claimName": "data"}]}
    index = index_of(ix.facts("ns", "a", "u1", spec, {}), ix.facts("ns", "b", "u2", spec, {}))
    assert ix.group_members(index, "ns", "g") == ["a", "b"]
    assert ix.group_members(index, "other", "g") == []
    assert ix.claim_users(index, "ns", "data") == [("a", False), ("b", False)]


def test_an_accepted_server_counts_for_its_quota_and_on_its_hosts() -> None:
    index = index_of(ix.facts("ns", "s", "u", {}, ACCEPTED), ix.facts("ns", "m", "v", {}, MOVING))
    assert [h.name for h in ix.on_host(index, "h1")] == ["s", "m"]
    assert ix.on_host(index, "h0") == [hosts.ServerOnHost("ns", "m", "v", 1, 1024, 5, True)]  # a move holds its source
    assert ix.quota_refused(index, "ns") == []


def test_a_server_refused_for_quota_is_listed_for_its_namespace() -> None:
    status = {"vmState": "error", "fault": {"code": 403, "message": "Quota exceeded for instances"}}
    index = index_of(ix.facts("ns", "s", "u", {}, status))
    assert ix.quota_refused(index, "ns") == ["s"]
    assert quotas.server_usage("s", status) is None  # and so holds nothing (IndexedUsage)


def test_the_on_host_view_is_a_copy() -> None:
    index = index_of({(ix.ON_HOST, "h1"): hosts.ServerOnHost("ns", "s", "u", 1, 1024, 5)})
    held = ix.on_host(index, "h1")
    held.clear()
    assert len(ix.on_host(index, "h1")) == 1
    assert ix.on_host(index, "h2") == []


def test_the_quota_usage_is_summed_per_namespace_as_servers_change() -> None:
    usage = IndexedUsage()
    usage.update("ns", "a", quotas.ServerUsage("a", 1, 1024))
    usage.update("ns", "b", quotas.ServerUsage("b", 2, 2048))
    usage.update("other", "a", quotas.ServerUsage("a", 4, 4096))
    usage.update("ns", "a", quotas.ServerUsage("a", 2, 1024))  # a resize
    usage.update("ns", "b", quotas.ServerUsage("b", 2, 2048))  # an event that changed nothing
    assert usage.sums == {"ns": (2, 4, 3072), "other": (1, 4, 4096)}
    usage.update("ns", "b", None)  # refused, or shelved offloaded
    usage.forget("other", "a")
    usage.forget("other", "never")
    assert usage.sums == {"ns": (1, 2, 1024)}
    assert usage.servers == {"ns": {"a": quotas.ServerUsage("a", 2, 1024)}}
