"""The chaos test's pure parts (tests/chaos.py): the plan a seed gives, the choice of an action
for an observed status, the expected-state model and the invariant checks."""

from __future__ import annotations

import random
from typing import Any

from tests import chaos


def server(
    name: str, status: str, *, claim: str | None = "h1", task: str | None = None, **extra: Any
) -> dict[str, Any]:
    st: dict[str, Any] = {"status": status, "taskState": task, **extra}
    if claim:
        st["claim"] = {"host": claim, "vcpus": 1, "memoryMb": 256, "diskGb": 0}
        st["host"] = claim
    return {"metadata": {"name": name}, "status": st}


def host(name: str, vcpus: int, ram: int, servers: list[str]) -> dict[str, Any]:
    refs = [{"name": s, "namespace": "ns"} for s in servers]
    return {"metadata": {"name": name}, "status": {"vcpusUsed": vcpus, "memoryMbUsed": ram, "servers": refs}}


def test_a_seed_gives_the_same_plan_and_another_seed_another() -> None:
    a = chaos.plan(7, servers=10, steps=50)
    assert a == chaos.plan(7, servers=10, steps=50)
    assert a != chaos.plan(8, servers=10, steps=50)
    assert any(s.is_fault for s in a)
    assert any(not s.is_fault for s in a)
    assert all(s.server is not None and 0 <= s.server < 10 for s in a if not s.is_fault)


def test_an_action_a_status_refuses_becomes_one_it_allows() -> None:
    rng = random.Random(1)
    assert chaos.choose("reboot", "ACTIVE", rng) == "reboot"
    assert chaos.choose("reboot", "SHUTOFF", rng) in chaos.ALLOWED["SHUTOFF"]
    assert chaos.choose("stop", "VERIFY_RESIZE", rng) in ("confirm", "revert")
    assert chaos.choose("stop", "BUILD", rng) is None
    assert chaos.choose("stop", None, rng) is None


def test_the_model_follows_the_accepted_actions() -> None:
    e = chaos.Expected()
    assert e.statuses() == {"ACTIVE"}
    e.apply("resize")
    assert e.statuses() == {"VERIFY_RESIZE"}
    e.apply("revert")
    e.apply("shelve")
    assert e.statuses() == {"SHELVED"}
    e.apply("offload")
    assert e.statuses() == {"SHELVED_OFFLOADED"}
    e.apply("unshelve")
    e.apply("stop")
    assert e.statuses() == {"SHUTOFF"}
    e.apply("delete")
    assert e.deleted


def test_states_a_lost_server_a_stuck_task_and_an_error_without_fault_are_found() -> None:
    expected = {n: chaos.Expected() for n in ("a", "b", "c", "d", "e")}
    expected["e"].deleted = True
    found = [
        server("a", "ACTIVE"),
        server("b", "ACTIVE", task="rebooting"),
        server("c", "ERROR"),
        server("e", "ACTIVE"),
    ]
    problems = chaos.check_states(found, expected)
    assert problems == [
        "b: task_state rebooting stuck",
        "c: ERROR without a fault",
        "d: lost (expected ['ACTIVE'])",
        "e: deleted but still there",
    ]
    ok = [server("c", "ERROR", fault={"message": "No valid host was found."})]
    assert chaos.check_states(ok, {"c": chaos.Expected()}) == []
    resizing = chaos.Expected(verify=True)
    refused = server("r", "ACTIVE", actions=[{"action": "resize", "result": "Error"}])
    assert chaos.check_states([refused], {"r": resizing}) == []
    assert chaos.check_states([server("r", "ACTIVE")], {"r": resizing}) == ["r: ACTIVE, expected ['VERIFY_RESIZE']"]


def test_workloads_one_each_none_when_offloaded_none_orphaned() -> None:
    servers = [server("a", "ACTIVE"), server("b", "SHELVED_OFFLOADED", claim=None), server("c", "ACTIVE")]
    assert chaos.check_workloads(servers, ["a", "c"]) == []
    assert chaos.check_workloads(servers, ["a", "a", "b", "c", "x"]) == [
        "a (ACTIVE): 2 workloads, expected 1",
        "b (SHELVED_OFFLOADED): 1 workloads, expected 0",
        "x: 1 workloads of no server",
    ]
    stopped_pod = {**server("p", "SHUTOFF"), "spec": {"backend": "container"}}
    stopped_vm = {**server("v", "SHUTOFF"), "spec": {"backend": "kubevirt"}}
    assert chaos.check_workloads([stopped_pod, stopped_vm], ["v"]) == []


def test_claims_sum_to_host_usage_and_two_only_during_a_move() -> None:
    source = {"host": "h2", "vcpus": 1, "memoryMb": 256, "diskGb": 0}
    moving = server("b", "VERIFY_RESIZE", migration={"status": "finished", "sourceClaim": source})
    servers = [server("a", "ACTIVE"), moving]
    hosts = [host("h1", 2, 512, ["a", "b"]), host("h2", 1, 256, ["b"])]
    assert chaos.check_claims(servers, hosts) == []
    stale = server("b", "ACTIVE", migration={"status": "confirmed", "sourceClaim": source})
    assert chaos.check_claims([server("a", "ACTIVE"), stale], hosts) == ["b: 2 claims and no unfinished move"]
    assert chaos.check_claims([server("a", "ACTIVE")], [host("h1", 2, 512, ["a"])]) == [
        "host h1: uses (2, 512), claims sum to (1, 256)"
    ]
    assert chaos.check_claims([server("a", "ACTIVE", claim=None)], []) == ["a (ACTIVE): no claim"]
    reserved = [host("h1", 1, 256 + 512, ["a"])]
    assert chaos.check_claims([server("a", "ACTIVE")], reserved, {"h1": (0, 512)}) == []


def test_every_action_must_have_ended() -> None:
    actions = [
        {"metadata": {"name": "x"}, "status": {"phase": "Succeeded"}},
        {"metadata": {"name": "y"}, "status": {"phase": "Running"}},
        {"metadata": {"name": "z"}},
    ]
    assert chaos.check_actions(actions) == ["serveraction y: Running", "serveraction z: None"]
