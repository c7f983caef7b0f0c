"""At most max_placement_results passing hosts are weighed, as Nova's Placement bounds them."""

from __future__ import annotations

from kubenova.scheduling.claims import Claim, Ledger
from kubenova.scheduling.model import Hosts, HostState, RequestSpec
from kubenova.scheduling.scheduler import Chosen, NoValidHost, select


def _hosts(n: int) -> Hosts:
    return Hosts(HostState(name=f"h{i}", vcpus=8, memory_mb=16_384, disk_gb=100) for i in range(n))


def _req(key: str, memory_mb: int = 1024) -> RequestSpec:
    return RequestSpec(key=key, namespace="ns", vcpus=1, memory_mb=memory_mb, disk_gb=1)


def test_no_more_candidates_than_the_limit() -> None:
    decision = select(_req("ns/a"), _hosts(50), {}, limit=10)
    assert isinstance(decision, Chosen)
    assert decision.candidates == 10


def test_every_host_is_a_candidate_under_the_limit() -> None:
    decision = select(_req("ns/a"), _hosts(50), {})
    assert isinstance(decision, Chosen)
    assert decision.candidates == 50


def test_full_hosts_do_not_count_against_the_limit() -> None:
    hosts, ledger = _hosts(40), Ledger()
    for i in range(39):  # all but one host full
        ledger.claim(f"ns/full{i}", Claim(f"h{i}", 8, 16_384, 100))
    decision = select(_req("ns/a"), hosts, ledger.usage(), limit=5)
    assert decision == Chosen("h39", 1)


def test_no_valid_host_counts_every_host() -> None:
    decision = select(_req("ns/a", memory_mb=10**9), _hosts(40), {}, limit=5)
    assert isinstance(decision, NoValidHost)
    assert decision.removed == [("RamFilter", 40)]


def test_a_request_sees_the_same_candidates_each_time() -> None:
    hosts = _hosts(200)
    first = select(_req("ns/same"), hosts, {}, limit=20)
    assert all(select(_req("ns/same"), hosts, {}, limit=20) == first for _ in range(5))


def test_placements_spread_over_every_host() -> None:
    hosts, ledger = _hosts(200), Ledger()
    chosen = set()
    for i in range(100):
        decision = select(_req(f"ns/s{i}"), hosts, ledger.usage(), limit=20)
        assert isinstance(decision, Chosen)
        ledger.claim(f"ns/s{i}", Claim(decision.host, 1, 1024, 1))
        chosen.add(decision.host)
    assert len(chosen) > 80  # each request's 20 candidates start somewhere else
