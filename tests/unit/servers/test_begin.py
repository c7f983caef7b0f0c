"""begin and follow_spec: an action starts with one write, or is refused with Nova's error
(409 for a state or a lock, 501 for what the backend cannot do, 403 for quota)."""

from __future__ import annotations

import pytest

from kubenova import quotas
from kubenova.nova.actions import Action, ActionRefused
from kubenova.servers import plan
from kubenova.servers.outcome import NOTHING
from tests.unit.servers.fakes import NOW, UID, World, active, server


def test_an_action_starts_with_its_first_task_and_a_new_revision() -> None:
    out = plan.begin(server(active()), World().facts(), Action.REBOOT, NOW, server_action="sa", request_id="req-1")
    patch = out.patch
    assert patch is not None
    assert (patch["vmState"], patch["taskState"]) == ("active", "rebooting")
    assert patch["actions"][-1] == {"requestId": "req-1", "action": "reboot", "startTime": NOW, "serverAction": "sa"}
    assert patch["workload"]["revision"] == "req-1"  # a reboot remakes the workload
    assert out.claims == {}


def test_an_action_in_the_wrong_state_is_refused_with_nova_409() -> None:
    with pytest.raises(ActionRefused) as refused:
        plan.begin(server(active(vmState="stopped")), World().facts(), Action.STOP, NOW)
    assert refused.value.code == 409
    assert refused.value.message == f"Cannot 'stop' instance {UID} while it is in vm_state stopped"


def test_a_locked_server_refuses_actions() -> None:
    with pytest.raises(ActionRefused) as refused:
        plan.begin(server(active(), locked=True), World().facts(), Action.STOP, NOW)
    assert (refused.value.code, refused.value.message) == (409, f"Instance {UID} is locked")


def test_what_the_backend_cannot_do_is_501() -> None:
    with pytest.raises(ActionRefused) as refused:
        plan.begin(server(active()), World().facts(), Action.PAUSE, NOW)
    assert refused.value.code == 501
    assert "the container backend cannot pause" in refused.value.message


def test_a_resize_needs_the_difference_in_quota() -> None:
    world = World(used=[quotas.ServerUsage("s1", 1, 1024)])
    world.limits["cores"] = 1
    with pytest.raises(ActionRefused) as refused:
        plan.begin(server(active(), flavor="m1.large"), world.facts(), Action.RESIZE, NOW)
    assert refused.value.code == 403
    assert "Quota exceeded for cores" in refused.value.message


def test_the_spec_starts_the_action_it_asks_for() -> None:
    out = plan.follow_spec(server(active(), state="stopped"), World().facts(), NOW)
    assert out.patch is not None
    assert out.patch["taskState"] == "powering-off"
    assert out.patch["actions"][-1]["action"] == "stop"


def test_a_settled_server_writes_nothing_on_a_resync() -> None:
    world = World()
    first = plan.follow_spec(server(active()), world.facts(), NOW)
    assert first.patch is not None  # Synced=True is said once
    again = server({**active(), **first.patch})
    assert plan.follow_spec(again, world.facts(), NOW) == NOTHING


def test_a_refusal_of_the_spec_is_said_once() -> None:
    world = World()
    out = plan.follow_spec(server(active(), state="paused"), world.facts(), NOW)
    patch = out.patch
    assert patch is not None
    assert patch["fault"]["code"] == 501
    synced = next(c for c in patch["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "Unsupported")
    assert [e.reason for e in out.events] == ["Unsupported"]
    again = server({**active(), **patch}, state="paused")
    assert plan.follow_spec(again, world.facts(), NOW) == NOTHING


def test_a_lock_change_is_recorded_and_checked_against() -> None:
    out = plan.follow_spec(server(active(), locked=True, lockedReason="audit"), World().facts(), NOW)
    assert out.patch is not None
    assert (out.patch["locked"], out.patch["lockedReason"]) == (True, "audit")


def test_a_confirmed_resize_releases_the_source_at_once() -> None:
    resized = active(
        "h2",
        vmState="resized",
        migration={"kind": "resize", "status": "finished", "previousVmState": "active", "sourceClaim": {}},
    )
    s = server(resized, autoConfirmResize=True)
    assert plan.needs_lock(s, World().facts())
    out = plan.follow_spec(s, World().facts(), NOW)
    assert out.patch is not None
    assert (out.patch["vmState"], out.patch["taskState"]) == ("active", None)
    assert out.patch["migration"]["status"] == "confirmed"
    assert out.patch["actions"][-1]["result"] == "Success"
    assert out.claims == {"ns/s1@source": None}
    assert [e.reason for e in out.events] == ["ResizeConfirmed"]


def test_following_the_spec_takes_the_lock_only_for_a_move() -> None:
    world = World()
    assert not plan.needs_lock(server(active(), state="stopped"), world.facts())
    assert plan.needs_lock(server(active(), flavor="m1.large"), world.facts())
    world.maintenance["h1"] = "migrate"
    assert plan.needs_lock(server(active()), world.facts())
