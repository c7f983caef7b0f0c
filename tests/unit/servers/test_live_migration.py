"""Live migration as pure steps (kubenova.servers.moves.live_migrate, kubenova.servers.live): the
destination claimed and the source kept; KubeVirt's migration valid against its published schema;
its phases as Nova's statuses; the end on the new host, back on the source with a fault after a
failure, without one after an abort; force_complete and abort checked as Nova checks them."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema
import pytest

from hack.devcluster import building
from kubenova.nova.actions import Action, ActionRefused
from kubenova.scheduling.claims import Claim
from kubenova.servers import live, moves, plan
from tests.unit.servers.fakes import NOW, UID, World, active, claim_status, server

SOURCE = Claim("h1", 1, 1024, 5)


@cache
def validator() -> jsonschema.Draft4Validator:
    definitions = copy.deepcopy(json.loads(building.kubevirt_openapi().read_text())["definitions"])
    for schema in definitions.values():
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    ref = "#/definitions/v1.VirtualMachineInstanceMigration"
    return jsonschema.Draft4Validator({"$ref": ref, "definitions": definitions})


def migrating(status: str = "running", **extra: Any) -> dict[str, Any]:
    st = active(backend="kubevirt")
    st |= {"taskState": "migrating", "status": "MIGRATING", "claim": claim_status("h2")}
    st["migration"] = {
        "kind": "live-migration",
        "sourceHost": "h1",
        "destHost": "h2",
        "status": status,
        "sourceClaim": claim_status("h1"),
        **extra,
    }
    st["actions"] = [
        {"requestId": "req-abcdef0123", "action": "live-migration", "startTime": NOW, "serverAction": "a1"}
    ]
    return st


def test_a_live_migration_claims_the_destination_and_keeps_the_source() -> None:
    s = server(active(backend="kubevirt"))
    out = moves.live_migrate(s, World(claims={"ns/s1": SOURCE}).facts(), host=None, request_id="r", now=NOW)
    assert "host" not in out.patch  # the server's host changes once KubeVirt has moved it
    assert out.patch["claim"]["host"] == "h2"
    assert out.patch["migration"]["kind"] == "live-migration"
    assert out.patch["migration"]["status"] == "accepted"
    assert out.claims == {"ns/s1": Claim("h2", 1, 1024, 5), "ns/s1@source": SOURCE}


def test_a_live_migration_to_its_own_host_is_400() -> None:
    with pytest.raises(ActionRefused) as refused:
        moves.live_migrate(server(active()), World().facts(), host="h1", request_id="r", now=NOW)
    assert (refused.value.code, refused.value.message) == (
        400,
        f"Unable to migrate instance ({UID}) to current host (h1).",
    )


def test_the_container_backend_refuses_it_with_501() -> None:
    with pytest.raises(ActionRefused) as refused:
        plan.begin(server(active()), World().facts(), Action.LIVE_MIGRATE, NOW)
    assert refused.value.code == 501


def test_the_migration_made_is_valid_kubevirt() -> None:
    step = live.converge(server(migrating("accepted")), None, None, now=NOW)
    assert step.pin == "h2"
    assert step.start is not None
    assert step.start["metadata"]["name"] == "s1-abcdef01"
    assert step.start["spec"] == {"vmiName": "s1", "addedNodeSelector": {"kubernetes.io/hostname": "h2"}}
    errors = list(validator().iter_errors(step.start))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize(
    ("phase", "nova"), [("Pending", "queued"), ("Scheduling", "preparing"), ("Running", "running")]
)
def test_kubevirts_phases_are_novas_statuses(phase: str, nova: str) -> None:
    step = live.converge(server(migrating("accepted")), None, {"status": {"phase": phase}}, now=NOW)
    assert step.outcome.patch is not None
    assert step.outcome.patch["migration"]["status"] == nova


def test_success_ends_on_the_new_host_with_one_claim() -> None:
    vmi = {"status": {"nodeName": "h2"}}
    out = live.converge(server(migrating()), vmi, {"status": {"phase": "Succeeded"}}, now=NOW).outcome
    assert out.patch is not None
    assert (out.patch["status"], out.patch["host"], out.patch["migration"]["status"]) == ("ACTIVE", "h2", "completed")
    assert out.claims == {"ns/s1@source": None}
    # Not before the instance says it moved.
    early = live.converge(
        server(migrating()), {"status": {"nodeName": "h1"}}, {"status": {"phase": "Succeeded"}}, now=NOW
    )
    assert early.outcome.patch is None


def test_a_failure_goes_back_to_the_source_with_the_fault() -> None:
    vmim = {"metadata": {"uid": "m"}, "status": {"phase": "Failed", "conditions": [{"message": "boom"}]}}
    step = live.converge(server(migrating()), {"status": {"nodeName": "h1"}}, vmim, now=NOW)
    out = step.outcome
    assert out.patch is not None
    assert step.pin == "h1"
    assert (out.patch["status"], out.patch["claim"]["host"], out.patch["migration"]["status"]) == (
        "ACTIVE",
        "h1",
        "error",
    )
    assert out.patch["fault"]["message"] == f"Live migration of instance {UID} to h2 failed: boom."
    assert out.claims == {"ns/s1": SOURCE, "ns/s1@source": None}


def test_an_abort_goes_back_without_a_fault() -> None:
    out = live.converge(server(migrating(abortRequested=True)), None, None, now=NOW).outcome
    assert out.patch is not None
    assert out.patch["migration"]["status"] == "cancelled"
    assert "fault" not in out.patch


def test_force_complete_and_abort_as_nova_checks_them() -> None:
    with pytest.raises(ActionRefused) as refused:
        live.check_control(server(active()), live.Control.FORCE_COMPLETE)
    assert refused.value.message == f"Cannot 'force_complete' instance {UID} while it is in task_state None"
    with pytest.raises(ActionRefused) as refused:
        live.check_control(server(migrating("queued")), live.Control.FORCE_COMPLETE)
    assert refused.value.code == 400
    assert "Cannot force complete while the migration is in this state." in refused.value.message
    assert live.check_control(server(migrating("queued")), live.Control.ABORT) == "s1-abcdef01"
    name, out = live.control(server(migrating()), live.Control.ABORT, now=NOW)
    assert name == "s1-abcdef01"
    assert out.patch is not None
    assert out.patch["migration"]["abortRequested"] is True


def test_maintenance_and_drains_move_a_running_vm_live_and_the_rest_cold() -> None:
    from kubenova.servers import intent

    vm = active(backend="kubevirt")
    migrate = lambda host: "migrate"  # noqa: E731
    none = lambda host: None  # noqa: E731
    assert intent.wanted({}, vm, migrate) is Action.LIVE_MIGRATE
    assert intent.wanted({}, vm, none, evacuating=True) is Action.LIVE_MIGRATE
    assert intent.wanted({}, active(), migrate) is Action.MIGRATE  # a Pod cannot move live
    stopped = vm | {"vmState": "stopped", "powerState": "SHUTDOWN", "status": "SHUTOFF"}
    assert intent.wanted({"state": "stopped"}, stopped, migrate) is Action.MIGRATE
    assert intent.wanted({}, vm, none) is None


def test_a_migration_kubevirt_refuses_goes_back_with_its_words() -> None:
    step = live.refused(server(migrating("accepted")), "Cannot migrate VMI, Reason: not LiveMigratable", now=NOW)
    assert step.pin == "h1"
    assert step.outcome.patch is not None
    assert step.outcome.patch["claim"]["host"] == "h1"
    assert step.outcome.patch["fault"]["message"].endswith("failed: Cannot migrate VMI, Reason: not LiveMigratable.")
