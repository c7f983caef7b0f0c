"""The moves: resize (the same host first), migrate (elsewhere, the source kept until
confirmed), evacuate (only from a host that is down), revert (back to the source), unshelve."""

from __future__ import annotations

import pytest

from kubenova.nova.actions import Action, ActionRefused
from kubenova.scheduling.claims import Claim
from kubenova.scheduling.model import HostState
from kubenova.servers import moves, plan
from tests.unit.servers.fakes import NOW, UID, World, active, claim_status, server

SOURCE = Claim("h1", 1, 1024, 5)


def world() -> World:
    return World(claims={"ns/s1": SOURCE})


def test_a_resize_stays_on_its_host_when_it_fits() -> None:
    out = moves.resize(server(active(), flavor="m1.large"), world().facts(), host=None, request_id="r", now=NOW)
    assert out.patch["host"] == "h1"
    assert out.patch["flavor"]["originalName"] == "m1.large"
    assert out.patch["migration"]["kind"] == "resize"
    assert out.patch["migration"]["status"] == "migrating"
    assert out.patch["migration"]["sourceClaim"] == claim_status("h1")
    assert out.claims == {"ns/s1": Claim("h1", 2, 2048, 10), "ns/s1@source": SOURCE}


def test_a_resize_moves_when_its_host_is_full() -> None:
    w = World(claims={"ns/s1": SOURCE}, hosts=[HostState("h1", 1, 1536, 100), HostState("h2", 4, 8192, 100)])
    out = moves.resize(server(active(), flavor="m1.large"), w.facts(), host=None, request_id="r", now=NOW)
    assert out.patch["host"] == "h2"
    assert out.patch["migration"]["sourceHost"] == "h1"


def test_a_resize_to_a_missing_flavor_is_400() -> None:
    with pytest.raises(ActionRefused) as refused:
        moves.resize(server(active(), flavor="nope"), world().facts(), host=None, request_id="r", now=NOW)
    assert (refused.value.code, refused.value.message) == (400, "Flavor nope could not be found.")


def test_a_migration_goes_elsewhere_and_keeps_the_source() -> None:
    out = moves.migrate(server(active()), world().facts(), host=None, request_id="r", now=NOW)
    assert out.patch["host"] == "h2"
    assert out.patch["migration"]["kind"] == "migration"
    assert out.patch["migration"]["previousVmState"] == "active"
    assert out.claims == {"ns/s1": Claim("h2", 1, 1024, 5), "ns/s1@source": SOURCE}


def test_a_migration_with_nowhere_to_go_is_no_valid_host() -> None:
    w = World(claims={"ns/s1": SOURCE}, hosts=[HostState("h1", 4, 8192, 100)])
    with pytest.raises(ActionRefused) as refused:
        moves.migrate(server(active()), w.facts(), host=None, request_id="r", now=NOW)
    assert refused.value.code == 500
    assert refused.value.message.startswith("No valid host was found.")


def test_an_evacuation_needs_its_host_down_and_keeps_nothing_there() -> None:
    w = world()
    with pytest.raises(ActionRefused) as refused:
        moves.evacuate(server(active()), w.facts(), host=None, request_id="r", now=NOW)
    assert (refused.value.code, refused.value.message) == (400, "Compute service of h1 is still in use.")
    w.down.add("h1")
    out = moves.evacuate(server(active()), w.facts(), host=None, request_id="r", now=NOW)
    assert out.patch["host"] == "h2"
    assert out.patch["migration"]["status"] == "accepted"
    assert out.patch["migration"]["sourceClaim"] is None
    assert out.claims == {"ns/s1": Claim("h2", 1, 1024, 5)}


def test_a_revert_goes_back_to_the_source_claim_and_flavor() -> None:
    small = active()["flavor"]
    resized = active(
        "h2",
        "m1.large",
        vmState="resized",
        migration={"kind": "resize", "status": "finished", "sourceClaim": claim_status("h1"), "sourceFlavor": small},
    )
    out = moves.revert(server(resized), world().facts(), host=None, request_id="r", now=NOW)
    assert out.patch["host"] == "h1"
    assert out.patch["flavor"] == small
    assert out.patch["migration"]["status"] == "reverting"
    assert out.claims == {"ns/s1": SOURCE, "ns/s1@source": None}
    with pytest.raises(ActionRefused) as refused:
        moves.revert(server(active(vmState="resized")), world().facts(), host=None, request_id="r", now=NOW)
    assert refused.value.message == f"Instance {UID} has no source host to revert to."


def test_an_offloaded_server_is_placed_again_on_unshelve() -> None:
    offloaded = {**active(vmState="shelved_offloaded"), "claim": None, "host": None}
    assert moves.of(Action.UNSHELVE, "shelved") is None  # a shelved server still has its host
    assert moves.of(Action.UNSHELVE, "shelved_offloaded") is moves.unshelve
    out = moves.unshelve(server(offloaded), World().facts(), host="h2", request_id="r", now=NOW)
    assert out.patch["host"] == "h2"
    assert "migration" not in out.patch
    assert out.claims == {"ns/s1": Claim("h2", 1, 1024, 5)}


def test_begin_writes_the_move_with_the_action() -> None:
    out = plan.begin(server(active()), world().facts(), Action.MIGRATE, NOW, server_action="sa", request_id="r")
    assert out.patch is not None
    assert (out.patch["taskState"], out.patch["host"]) == ("resize_prep", "h2")
    assert out.patch["workload"]["revision"] == "r"
    assert out.claims["ns/s1"] == Claim("h2", 1, 1024, 5)
