"""converge: the workload the task in flight needs, and the end of the task once the backend
shows it (ACTIVE on observation); a failed workload is ERROR, a refused step ActionFailed."""

from __future__ import annotations

from kubenova.backends.workload import Address, Observation
from kubenova.servers import build, plan, tasks
from kubenova.servers.outcome import NOTHING, Settle
from kubenova.servers.view import Server
from tests.unit.servers.fakes import NOW, World, server, written


def spawning(world: World) -> Server:
    s = server()
    return written(s, build.accept(s, world.facts(), NOW).patch)


def running(revision: str | None) -> Observation:
    return Observation(
        exists=True, power="RUNNING", ready=True, revision=revision, addresses=(Address("pod", "10.0.0.7"),)
    )


def test_a_placed_server_asks_for_a_running_workload_on_its_host() -> None:
    world = World()
    s = spawning(world)
    assert plan.phase(s) is plan.Phase.CONVERGE
    target = plan.workload(s, world.facts())
    assert target is not None
    assert target.goal is tasks.Goal.RUNNING
    assert (target.backend, target.action) == ("container", "create")
    assert target.server.host == s.status.get("host")
    assert target.server.revision == s.status["actions"][-1]["requestId"]  # type: ignore[index]


def test_a_build_becomes_active_when_the_workload_runs() -> None:
    world = World()
    s = spawning(world)
    revision = s.status["actions"][-1]["requestId"]  # type: ignore[index]
    assert plan.converge(s, Observation(exists=True, power="NOSTATE", revision=revision), NOW) == NOTHING
    done = plan.converge(s, running(revision), NOW)
    patch = done.patch
    assert patch is not None
    assert (patch["vmState"], patch["taskState"], patch["status"], patch["powerState"]) == (
        "active",
        None,
        "ACTIVE",
        "RUNNING",
    )
    assert patch["launchedAt"] == NOW
    assert patch["addresses"] == [{"network": "pod", "addr": "10.0.0.7", "version": 4, "type": "fixed"}]
    assert patch["actions"][-1]["result"] == "Success"
    assert done.events == ()  # a finished build shows in status; actions get an Event
    assert done.settle is None


def test_a_workload_that_cannot_run_is_error() -> None:
    world = World()
    s = spawning(world)
    failed = plan.converge(s, Observation(exists=True, failure="ErrImagePull: nope"), NOW)
    assert failed.patch is not None
    assert failed.patch["vmState"] == "error"
    assert failed.patch["fault"]["message"] == "The container workload failed: ErrImagePull: nope."
    assert [e.reason for e in failed.events] == ["WorkloadFailed"]


def test_a_server_with_nothing_placed_needs_no_workload() -> None:
    world = World()
    s = server({"vmState": "building", "taskState": "spawning", "flavor": {"originalName": "m1.small"}})
    assert plan.workload(s, world.facts()) is None


def test_a_refused_step_clears_the_task_and_keeps_the_state() -> None:
    s = server(
        {
            "vmState": "active",
            "taskState": "pausing",
            "backend": "kubevirt",
            "actions": [{"requestId": "r", "action": "pause", "startTime": NOW, "serverAction": "sa"}],
        }
    )
    out = plan.action_failed(s, "pause", "KubeVirt could not pause", NOW)
    assert out.patch is not None
    assert (out.patch["vmState"], out.patch["taskState"]) == ("active", None)
    assert out.patch["fault"]["message"] == "KubeVirt could not pause"
    synced = next(c for c in out.patch["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "ActionFailed")
    assert out.settle == Settle("sa", "r", "KubeVirt could not pause")
