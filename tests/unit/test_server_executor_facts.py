"""The executor's Facts read kopf's indexes as the planner expects: the overlays of this
process's claims and admissions count, maintenance and host state come from Host bodies."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf

from kubenova import config, hosts, quotas
from kubenova.handlers import placement, server_executor, server_index, state
from kubenova.handlers.placement import IndexedClaims
from kubenova.kube.servers import Client
from kubenova.scheduling.claims import Claim
from kubenova.servers import build
from tests.unit.servers.fakes import NOW, server


def indexes(**ix: dict[Any, list[Any]]) -> dict[str, Any]:
    """kopf's indexes as handlers receive them (a mapping of key → store; lists will do)."""
    names = [
        "flavor_specs", "keypair_keys", "quota_specs", "quota_keypairs", "quota_server_groups",
        "server_group_specs", "server_facts", "server_claims", "node_facts", "host_bodies",
        "aggregate_metadata", "host_aggregates", "image_bodies", "storage_classes",
    ]  # fmt: skip
    return {name: ix.get(name, {}) for name in names}


def memo() -> kopf.Memo:
    return kopf.Memo(state=state.make(config.Settings(), cast(Client, None)))


def node(name: str) -> hosts.NodeFacts:
    return hosts.NodeFacts(name, True, 4, 8192, 100, "10.0.0.1", True)


def test_facts_read_the_indexes_and_the_overlays() -> None:
    m = memo()
    ix = indexes(
        flavor_specs={"m1.small": [{"vcpus": 1, "ram": 1024, "disk": 5}]},
        keypair_keys={("ns", "bob"): ["ssh-ed25519 AAAA bob"]},
        node_facts={"h1": [node("h1")], "h2": [node("h2")]},
        host_bodies={"h1": [({"maintenance": "migrate"}, {"state": "down"}, 1)], "h2": [({}, {"state": "up"}, 1)]},
        host_aggregates={"h2": [("az", "zone-b")]},
    )
    facts = server_executor.facts(m, ix)
    assert facts.flavor("m1.small") == {"vcpus": 1, "ram": 1024, "disk": 5}
    assert facts.public_key("ns", "bob") == "ssh-ed25519 AAAA bob"
    assert facts.public_key("ns", "eve") is None
    assert (facts.maintenance("h1"), facts.maintenance("h2"), facts.maintenance(None)) == ("migrate", None, None)
    assert (facts.host_up("h1"), facts.host_up("h2"), facts.host_up("h3")) == (False, True, False)
    assert facts.zone("h2") == "zone-b"
    assert len(facts.hosts()) == 2
    assert facts.limits("ns") == {**quotas.NOVA_DEFAULTS}
    st = state.of(m)
    st.placement.indexed.update("ns/old", {"ns/old": Claim("h1", 1, 1024, 5)})  # as server_claims does
    assert facts.ledger().get("ns/old") == Claim("h1", 1, 1024, 5)
    st.placement.pending["ns/new"] = Claim("h2", 2, 2048, 10)
    st.placement.pending["ns/old"] = None  # released here, the index not caught up yet
    ledger = facts.ledger()
    assert (ledger.get("ns/new"), ledger.get("ns/old")) == (Claim("h2", 2, 2048, 10), None)
    st.placement.charged["ns/new"] = quotas.ServerUsage("new", 2, 2048)
    assert facts.usage("ns").of("cores") == 2


def test_a_build_planned_over_the_indexes_claims_a_host() -> None:
    m = memo()
    ix = indexes(
        flavor_specs={"m1.small": [{"vcpus": 1, "ram": 1024, "disk": 5}]},
        node_facts={"h1": [node("h1")]},
    )
    outcome = build.accept(server(), server_executor.facts(m, ix), NOW)
    assert outcome.patch is not None
    assert outcome.patch["host"] == "h1"


def test_the_debounce_runs_work_once_per_burst() -> None:
    async def burst() -> int:
        calls = []
        st = state.make(config.Settings(refresh_delay_seconds=0), cast(Client, None))

        async def work() -> None:
            calls.append(1)

        for _ in range(5):
            st.refresh.soon("k", work)
        await asyncio.gather(*st.refresh.pending.values())
        return len(calls)

    assert asyncio.run(burst()) == 1


def test_claim_holders_are_the_index_overlaid_with_this_processs_writes() -> None:
    m = memo()
    ix = indexes()
    ix["server_facts"] = {
        (server_index.CLAIM_USER, "ns", "data"): [("one", True), ("two", False)],
        (server_index.CLAIM_USER, "ns", "logs"): [("three", True)],
    }
    p = state.of(m).placement
    facts = server_executor.facts(m, ix)
    assert facts.claim_holders("ns", "data") == ["one"]
    # one detached it a moment ago, two attached it: the index has not seen either yet.
    p.volume_holds["ns/one"] = {}
    p.volume_holds["ns/two"] = {"data": True}
    p.volume_holds["other/four"] = {"data": True}  # another namespace's claim of the same name
    assert facts.claim_holders("ns", "data") == ["two"]
    assert facts.claim_holders("ns", "logs") == ["three"]


def test_the_indexed_claims_follow_each_server_event() -> None:
    """What server_claims keeps summed equals the index: a server's claims replaced (a resize, a
    migration's source released) or forgotten (deleted) leave no trace in the host sums."""
    indexed = IndexedClaims()
    indexed.update("ns/a", {"ns/a": Claim("h1", 1, 1024, 5), "ns/a#source": Claim("h2", 1, 1024, 5)})
    indexed.update("ns/b", {"ns/b": Claim("h1", 2, 2048, 10)})
    assert dict(indexed.ledger.usage()) == {"h1": (3, 3072, 15), "h2": (1, 1024, 5)}
    indexed.update("ns/a", {"ns/a": Claim("h1", 2, 2048, 10)})
    assert dict(indexed.ledger.usage()) == {"h1": (4, 4096, 20)}
    indexed.forget("ns/b")
    indexed.forget("ns/gone")
    assert dict(indexed.ledger.usage()) == {"h1": (2, 2048, 10)}
    copy = indexed.ledger.copy()
    copy.release("ns/a")
    assert indexed.ledger.get("ns/a") == Claim("h1", 2, 2048, 10)


def test_a_host_whose_facts_did_not_change_keeps_its_state() -> None:
    made: dict[str, Any] = {}
    conf = config.Settings()
    nodes = {"h1": [node("h1")], "h2": [node("h2")]}
    bodies: dict[str, list[Any]] = {"h1": [({}, {"state": "up"}, 1)], "h2": [({}, {}, 1)]}
    first = placement.host_states(conf, nodes, bodies, {}, {}, made=made)  # type: ignore[arg-type]
    bodies["h1"] = [({}, {"state": "up", "usage": "changed"}, 2)]  # a usage write: same facts
    bodies["h2"] = [({"enabled": False}, {}, 2)]
    second = placement.host_states(conf, nodes, bodies, {}, {}, made=made)  # type: ignore[arg-type]
    assert second[0] is first[0]
    assert (second[1].enabled, first[1].enabled) == (False, True)
    del nodes["h2"]
    assert [h.name for h in placement.host_states(conf, nodes, bodies, {}, {}, made=made)] == ["h1"]  # type: ignore[arg-type]
    assert list(made) == ["h1"]


def test_the_hosts_are_kept_until_what_they_are_made_from_changes() -> None:
    m = memo()
    inputs = state.of(m).placement.host_inputs
    nodes = {"h1": [node("h1")]}
    bodies: dict[str, list[Any]] = {"h1": [({}, {"state": "up"}, 1)]}
    inputs.saw("node", "h1", nodes["h1"][0])
    inputs.saw("host", "h1", {})
    facts = server_executor.facts(m, indexes(node_facts=nodes, host_bodies=bodies))
    first = facts.hosts()
    # A Host's usage write changes its status only: the hosts are not even looked at again
    # (the spec changed behind the index functions' back here, and is not seen).
    inputs.saw("host", "h1", {})
    bodies["h1"] = [({"enabled": False}, {"state": "up", "usage": "changed"}, 2)]
    assert facts.hosts() is first
    assert first.states[0].enabled
    # Its spec is an input: the hosts are made again.
    inputs.saw("host", "h1", {"enabled": False})
    second = facts.hosts()
    assert second is not first
    assert not second.states[0].enabled
    # A Node that leaves the index without a deletion event (its compute label removed) counts.
    nodes["h2"] = [node("h2")]
    assert [h.name for h in facts.hosts().states] == ["h1", "h2"]
    del nodes["h2"]
    assert [h.name for h in facts.hosts().states] == ["h1"]
    inputs.gone("host", "h1")
    bodies["h1"] = [({}, {}, 4)]
    assert facts.hosts().states[0].enabled
