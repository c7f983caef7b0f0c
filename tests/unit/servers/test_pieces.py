"""The planner's pieces: status patches, flavor copies, claims and history."""

from __future__ import annotations

from kubenova import hosts
from kubenova.nova import faults
from kubenova.nova.states import PowerState
from kubenova.scheduling.claims import Claim
from kubenova.servers import claims, history, placing, status

NOW = "2026-11-24T00:00:00Z"


def test_state_patch_reads_like_nova_and_ready_only_when_settled() -> None:
    building = status.state_patch({}, vm_state="building", task_state="scheduling", generation=1, now=NOW)
    assert (building["status"], building["conditions"][0]["status"]) == ("BUILD", "False")
    active = status.state_patch(
        building, vm_state="active", task_state=None, power=PowerState.RUNNING, generation=1, now=NOW
    )
    assert (active["status"], active["powerState"], active["powerStateCode"]) == ("ACTIVE", "RUNNING", 1)
    assert active["conditions"][0]["status"] == "True"
    assert active["observedGeneration"] == 1


def test_fail_sets_error_and_the_fault() -> None:
    patch = status.fail({}, faults.no_valid_host("reasons.", now=NOW), generation=2, now=NOW)
    assert patch["status"] == "ERROR"
    assert patch["fault"] == {"code": 500, "message": "No valid host was found. reasons.", "created": NOW}
    assert patch["conditions"][0]["message"] == "No valid host was found. reasons."


def test_flavor_copy_disk_claim_and_backend_choice() -> None:
    copy = placing.embedded_flavor("m1.small", {"vcpus": 1, "ram": 2048, "disk": 20, "swap": 1536, "ephemeral": 5})
    assert placing.disk_gb(copy) == 27  # swap rounds up to whole GiB
    assert placing.flavor_from_status(copy).ram == 2048
    claim = Claim("h1", 1, 2048, 27)
    assert claims.from_status(claims.to_status(claim)) == claim
    assert claims.from_status(None) is None
    assert placing.backend_of({}, {"extraSpecs": {"kubenova:backend": "kubevirt"}}, "container") == "kubevirt"
    assert (
        placing.backend_of({"backend": "container"}, {"extraSpecs": {"kubenova:backend": "kubevirt"}}, "x")
        == "container"
    )
    assert placing.backend_of({}, {}, "container") == "container"


def test_action_history_records_start_and_finish_and_stays_short() -> None:
    record: dict[str, object] = {"actions": []}
    for i in range(25):
        record = {"actions": history.start_action(record, f"a{i}", now=NOW)}
        record = {"actions": history.finish_action(record, now=NOW)}
    actions = record["actions"]
    assert isinstance(actions, list)
    assert len(actions) == history.HISTORY
    assert actions[-1]["action"] == "a24"
    assert actions[-1]["requestId"].startswith("req-")
    assert actions[-1]["result"] == "Success"
    assert history.finish_action(record, now=NOW) is None


def test_claims_of_a_moving_server_hold_both_hosts_and_add_up_on_one() -> None:
    own, source = Claim("h1", 2, 2048, 20), Claim("h1", 1, 1024, 10)
    st = {"claim": claims.to_status(own), "migration": {"sourceClaim": claims.to_status(source)}}
    assert claims.claims_of(st) == {"": own, claims.SOURCE: source}
    held = hosts.held_on_hosts("ns", "s", "uid", claims.claims_of(st).values())
    assert held == {"h1": hosts.ServerOnHost("ns", "s", "uid", 3, 3072, 30)}
