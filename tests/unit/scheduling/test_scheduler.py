"""Nova's filters and weighers, and claims that never oversubscribe."""

from __future__ import annotations

import random

import pytest

from kubenova.scheduling.claims import Claim, Ledger
from kubenova.scheduling.filters import matches
from kubenova.scheduling.model import GroupSpec, HostState, RequestSpec, Usage
from kubenova.scheduling.scheduler import Chosen, NoValidHost, choose_and_claim, select
from kubenova.scheduling.weighers import Weights


def host(name: str, **kw: object) -> HostState:
    base: dict[str, object] = {"vcpus": 4, "memory_mb": 8192 + 512, "disk_gb": 100}
    base.update(kw)
    return HostState(name=name, **base)  # type: ignore[arg-type]


def req(key: str = "ns/s", **kw: object) -> RequestSpec:
    base: dict[str, object] = {"namespace": "ns", "vcpus": 1, "memory_mb": 1024, "disk_gb": 10}
    base.update(kw)
    return RequestSpec(key=key, **base)  # type: ignore[arg-type]


def chosen(decision: object) -> str:
    assert isinstance(decision, Chosen), decision
    return decision.host


def refused(decision: object) -> NoValidHost:
    assert isinstance(decision, NoValidHost), decision
    return decision


def test_disabled_and_down_hosts_are_filtered_by_compute_filter() -> None:
    hosts = [host("a", enabled=False), host("b", up=False), host("c")]
    assert chosen(select(req(), hosts, {})) == "c"
    nvh = refused(select(req(), hosts[:2], {}))
    assert nvh.reasons() == (
        "There are not enough hosts available. Filtering removed all hosts: ComputeFilter removed 2 of 2."
    )


def test_ram_fit_counts_reserved_memory_and_the_allocation_ratio() -> None:
    h = host("a", memory_mb=4096, reserved_memory_mb=512, ram_ratio=1.0)
    assert chosen(select(req(memory_mb=3584), [h], {}))
    assert "RamFilter removed 1 of 1" in refused(select(req(memory_mb=3585), [h], {})).reasons()
    over = host("a", memory_mb=4096, reserved_memory_mb=512, ram_ratio=1.5)
    assert chosen(select(req(memory_mb=5376), [over], {}))
    assert "RamFilter" in refused(select(req(memory_mb=2000), [h], {"a": Usage(0, 2000, 0)})).reasons()


def test_cpu_and_disk_fit_with_ratios() -> None:
    h = host("a", vcpus=2, cpu_ratio=4.0, disk_gb=10, disk_ratio=1.0)
    assert chosen(select(req(vcpus=8, disk_gb=10), [h], {}))
    assert "CoreFilter" in refused(select(req(vcpus=9), [h], {})).reasons()
    assert "DiskFilter" in refused(select(req(disk_gb=11, vcpus=1), [h], {})).reasons()


def test_availability_zone_and_empty_zone_request() -> None:
    hosts = [host("a", zone="az1"), host("b")]
    assert chosen(select(req(zone="az1"), hosts, {})) == "a"
    assert chosen(select(req(zone="nova"), hosts, {})) == "b"
    assert {chosen(select(req(), [h], {})) for h in hosts} == {"a", "b"}
    assert "AvailabilityZoneFilter removed 2 of 2" in refused(select(req(zone="az9"), hosts, {})).reasons()


def test_aggregate_extra_specs_with_a_host_in_several_aggregates() -> None:
    h = host("a", aggregates=("ssd", "gpu"), metadata={"ssd": frozenset({"true"}), "gpus": frozenset({"2", "4"})})
    plain = host("b")
    specs = {"aggregate_instance_extra_specs:ssd": "true", "hw:cpu_policy": "dedicated"}
    assert chosen(select(req(extra_specs=specs), [h, plain], {})) == "a"
    assert chosen(select(req(extra_specs={"gpus": ">= 3"}), [h, plain], {})) == "a"
    nvh = refused(select(req(extra_specs={"aggregate_instance_extra_specs:ssd": "false"}), [h, plain], {}))
    assert "AggregateInstanceExtraSpecsFilter removed 2 of 2" in nvh.reasons()


@pytest.mark.parametrize(
    ("value", "wanted", "ok"),
    [
        ("true", "true", True),
        ("fast ssd", "<in> ssd", True),
        ("b", "<or> a <or> b", True),
        ("c", "<or> a <or> b", False),
        ("4", ">= 3", True),
        ("2", "<= 1", False),
        ("abc", "s== abc", True),
        ("x", "s!= x", False),
    ],
)
def test_extra_spec_operators(value: str, wanted: str, ok: bool) -> None:
    assert matches(value, wanted) is ok


def test_tenant_isolation() -> None:
    private = host("a", metadata={"filter_tenant_id": frozenset({"team-a,team-b"})})
    public = host("b")
    assert chosen(select(req(namespace="team-b"), [private], {})) == "a"
    assert chosen(select(req(namespace="other"), [private, public], {})) == "b"
    assert "AggregateMultiTenancyIsolation" in refused(select(req(namespace="other"), [private], {})).reasons()


def test_affinity_follows_members_and_anti_affinity_avoids_them() -> None:
    hosts = [host("a"), host("b"), host("c")]
    aff = GroupSpec("g", "affinity", {"b": 1})
    assert chosen(select(req(group=aff), hosts, {})) == "b"
    assert chosen(select(req(group=GroupSpec("g", "affinity")), hosts, {}))  # the first member goes anywhere
    anti = GroupSpec("g", "anti-affinity", {"a": 1, "b": 1})
    assert chosen(select(req(group=anti), hosts, {})) == "c"
    two = GroupSpec("g", "anti-affinity", {"a": 1, "b": 2, "c": 2}, max_server_per_host=2)
    assert chosen(select(req(group=two), hosts, {})) == "a"


def test_anti_affinity_with_more_members_than_hosts_is_no_valid_host() -> None:
    hosts = [host("a"), host("b")]
    ledger = Ledger()
    members: dict[str, int] = {}
    for i in range(2):
        h = chosen(
            choose_and_claim(req(f"ns/m{i}", group=GroupSpec("g", "anti-affinity", dict(members))), hosts, ledger)
        )
        members[h] = members.get(h, 0) + 1
    nvh = refused(select(req("ns/m2", group=GroupSpec("g", "anti-affinity", members)), hosts, ledger.usage()))
    assert "ServerGroupAntiAffinityFilter removed 2 of 2" in nvh.reasons()


def test_same_and_different_host_hints_and_ignore_hosts() -> None:
    hosts = [host("a"), host("b"), host("c")]
    assert chosen(select(req(same_host=frozenset({"b"})), hosts, {})) == "b"
    assert chosen(select(req(different_host=frozenset({"a", "b"})), hosts, {})) == "c"
    assert chosen(select(req(ignore_hosts=frozenset({"a", "c"})), hosts, {})) == "b"
    assert chosen(select(req(force_host="c"), hosts, {})) == "c"


def test_positive_multipliers_spread_and_negative_ones_stack() -> None:
    hosts = [host("a"), host("b")]
    usage = {"a": Usage(2, 4096, 10)}
    assert chosen(select(req(), hosts, usage)) == "b"
    assert chosen(select(req(), hosts, usage, Weights(ram=-1.0, cpu=-1.0, disk=-1.0))) == "a"


def test_soft_affinity_and_soft_anti_affinity_weigh() -> None:
    hosts = [host("a"), host("b")]
    assert (
        chosen(select(req(group=GroupSpec("g", "soft-affinity", {"a": 2})), hosts, {}, Weights(ram=0, cpu=0, disk=0)))
        == "a"
    )
    assert (
        chosen(
            select(req(group=GroupSpec("g", "soft-anti-affinity", {"a": 2})), hosts, {}, Weights(ram=0, cpu=0, disk=0))
        )
        == "b"
    )


def test_host_subset_size_picks_among_the_best() -> None:
    hosts = [host(n) for n in "abcd"]
    usage = {"c": Usage(4, 8000, 90), "d": Usage(4, 8000, 90)}
    picks = {chosen(select(req(), hosts, usage, Weights(host_subset_size=2), random.Random(i))) for i in range(40)}
    assert picks == {"a", "b"}


def test_claims_never_oversubscribe_and_release_and_rebuild() -> None:
    hosts = [host("a"), host("b")]
    ledger = Ledger()
    placed = [choose_and_claim(req(f"ns/s{i}", memory_mb=1024), hosts, ledger) for i in range(20)]
    assert sum(isinstance(d, Chosen) for d in placed) == 16  # 8 GiB usable on each
    assert all(m <= 8192 for _, m, _ in ledger.usage().values())
    assert ledger.release("ns/s0") is not None
    assert isinstance(choose_and_claim(req("ns/late"), hosts, ledger), Chosen)
    snapshot = [(k, c) for k in [f"ns/s{i}" for i in range(20)] if (c := ledger.get(k))]
    copy = Ledger()
    copy.rebuild(snapshot)
    assert len(copy) == 15


def test_claiming_again_replaces_the_claim_and_a_failed_move_keeps_it() -> None:
    hosts = [host("a")]
    ledger = Ledger()
    choose_and_claim(req(memory_mb=4096), hosts, ledger)
    assert isinstance(choose_and_claim(req(memory_mb=8192), hosts, ledger), Chosen)  # a resize on the same host
    assert ledger.usage()["a"] == Usage(vcpus=1, memory_mb=8192, disk_gb=10)
    assert isinstance(choose_and_claim(req(memory_mb=9000), hosts, ledger), NoValidHost)
    assert ledger.get("ns/s") == Claim("a", 1, 8192, 10)


def test_no_hosts_at_all() -> None:
    assert refused(select(req(), [], {})).reasons() == "There are no compute hosts."
