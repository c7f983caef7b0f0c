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


def test_volumes_snapshots_and_live_migration_are_chosen_where_nova_allows_them() -> None:
    rng = random.Random(2)
    assert chaos.choose("attach", "SHELVED_OFFLOADED", rng) == "attach"
    assert chaos.choose("detach", "VERIFY_RESIZE", rng) == "detach"
    assert chaos.choose("createImage", "SHUTOFF", rng) == "createImage"
    assert chaos.choose("liveMigrate", "ACTIVE", rng) == "liveMigrate"
    assert chaos.choose("liveMigrate", "SHUTOFF", rng) != "liveMigrate"  # Nova: active or paused only
    assert chaos.choose("createImage", "SHELVED", rng) != "createImage"
    # A container server is never given a volume, and is tried (for Nova's 501) on the others.
    picks = {chaos.choose("attach", "SHELVED", rng, "container") for _ in range(50)}
    assert picks <= {"unshelve", "offload"}
    assert chaos.choose("createImage", "ACTIVE", rng, "container") == "createImage"
    assert chaos.backend_of("c001") == "kubevirt"
    assert chaos.backend_of("c002") == "container"


def test_a_volume_change_attaches_a_free_claim_or_detaches_an_attached_one() -> None:
    rng = random.Random(3)
    claims = chaos.volume_claims("c001")
    assert claims == ("c001-a", "c001-b")
    assert chaos.volume_change("attach", (), claims, rng)[0] == "attach"
    assert chaos.volume_change("detach", (), claims, rng)[0] == "attach"  # none to detach
    assert chaos.volume_change("attach", claims, claims, rng)[0] == "detach"  # none free
    assert chaos.volume_change("attach", ("c001-a",), claims, rng) == ("attach", "c001-b")
    assert chaos.volume_change("detach", ("c001-a",), claims, rng) == ("detach", "c001-a")


def test_the_model_follows_attach_and_detach_and_snapshots_and_live_moves_change_nothing() -> None:
    e = chaos.Expected()
    e.apply("attach", "v1")
    e.apply("attach", "v2")
    e.apply("attach", "v1")
    assert list(e.volumes) == ["v1", "v2"]
    e.apply("detach", "v1")
    e.apply("createImage")
    e.apply("liveMigrate")
    assert (e.statuses(), list(e.volumes), e.deleted) == ({"ACTIVE"}, ["v2"], False)


def vm(*claims: str, plain: tuple[str, ...] = ()) -> dict[str, Any]:
    volumes = [{"name": c, "persistentVolumeClaim": {"claimName": c, "hotpluggable": True}} for c in claims]
    volumes += [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in plain]
    return {"spec": {"template": {"spec": {"volumes": [{"name": "root", "dataVolume": {}}, *volumes]}}}}


def kubevirt(name: str, status: str, *attachments: dict[str, Any]) -> dict[str, Any]:
    return {**server(name, status, volumeAttachments=list(attachments)), "spec": {"backend": "kubevirt"}}


def test_volumes_attached_are_those_the_spec_lists_in_the_status_and_the_vm() -> None:
    root = {"id": "boot", "root": True, "state": "attached"}
    a = {"id": "a", "state": "attached"}
    expected = {"s": chaos.Expected(volumes=("a",))}
    assert chaos.check_volumes([kubevirt("s", "ACTIVE", root, a)], expected, {"s": vm("a", plain=("boot",))}) == []
    assert chaos.check_volumes([kubevirt("s", "SHELVED_OFFLOADED", a)], expected, {}) == []  # no VM to carry it
    assert chaos.check_volumes([kubevirt("s", "ACTIVE")], expected, {"s": vm()}) == [
        "s: volumes [] attached, spec lists ['a']",
        "s: VM carries volumes [], spec lists ['a']",
    ]
    detaching = {"id": "a", "state": "detaching"}
    assert chaos.check_volumes([kubevirt("s", "ACTIVE", detaching)], expected, {"s": vm("a")}) == [
        "s: volumes ['a'] not settled"
    ]
    # ERROR (with its fault, which check_states asks for) and container servers are not checked.
    assert chaos.check_volumes([kubevirt("s", "ERROR")], expected, {}) == []
    pod = {**server("s", "ACTIVE"), "spec": {"backend": "container"}}
    assert chaos.check_volumes([pod], expected, {}) == []


def image(name: str, status: str, reason: str | None = None) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "False", "message": reason}] if reason else []
    return {"metadata": {"name": name}, "status": {"status": status, "conditions": conditions}}


def test_every_snapshot_ends_active_or_killed_with_a_reason() -> None:
    made = {"ok": "Succeeded", "bad": "Failed", "refused": "Failed", "lost": "Succeeded", "slow": "Running"}
    images = [image("ok", "active"), image("bad", "killed", "Clone failed"), image("slow", "saving")]
    assert chaos.check_images(images, made) == [
        "image lost: its createImage Succeeded, the image is gone",
        "image slow: saving",
    ]
    assert chaos.check_images([image("bad", "killed")], {"bad": "Failed"}) == ["image bad: killed without a reason"]
    assert chaos.check_images([image("x", "killed", "why")], {"x": "Succeeded"}) == [
        "image x: killed, its createImage Succeeded"
    ]


def record(name: str, server_name: str, status: str, request: str = "req-1") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"server": server_name, "requestId": request},
        "status": {"status": status},
    }


def test_every_migration_record_has_ended_and_finished_only_while_it_waits_for_confirm() -> None:
    waiting_one = server("a", "VERIFY_RESIZE", migration={"requestId": "req-1", "status": "finished"})
    moved = server("b", "ACTIVE", migration={"requestId": "req-2", "status": "completed"})
    records = [
        record("a-1", "a", "finished"),
        record("b-2", "b", "completed", "req-2"),
        record("b-0", "b", "confirmed"),
    ]
    assert chaos.check_migrations(records, [waiting_one, moved]) == []
    stuck = [record("b-2", "b", "running", "req-2"), record("b-1", "b", "finished"), record("x-1", "x", "done")]
    assert chaos.check_migrations(stuck, [waiting_one, moved]) == [
        "migration b-2: running",
        "migration b-1: finished, its server ACTIVE (not confirmed or reverted)",
        "migration x-1: of no server",
    ]


def test_a_finished_live_migration_or_an_aborted_one_holds_one_claim() -> None:
    source = {"host": "h2", "vcpus": 1, "memoryMb": 256, "diskGb": 0}
    hosts = [host("h1", 1, 256, ["a"]), host("h2", 1, 256, ["a"])]
    for ended in ("completed", "cancelled"):
        left = server("a", "ACTIVE", migration={"status": ended, "sourceClaim": source})
        assert chaos.check_claims([left], hosts) == ["a: 2 claims and no unfinished move"]
    running = server("a", "MIGRATING", migration={"status": "running", "sourceClaim": source})
    assert chaos.check_claims([running], hosts) == []
