"""The Server lifecycle's pure steps: status patches, flavor copies, claims and history."""

from __future__ import annotations

from kubenova import lifecycle
from kubenova.nova import faults
from kubenova.nova.states import PowerState
from kubenova.scheduling.claims import Claim

NOW = "2026-11-24T00:00:00Z"


def test_state_patch_reads_like_nova_and_ready_only_when_settled() -> None:
    building = lifecycle.state_patch({}, vm_state="building", task_state="scheduling", generation=1, now=NOW)
    assert (building["status"], building["conditions"][0]["status"]) == ("BUILD", "False")
    active = lifecycle.state_patch(
        building, vm_state="active", task_state=None, power=PowerState.RUNNING, generation=1, now=NOW
    )
    assert (active["status"], active["powerState"], active["powerStateCode"]) == ("ACTIVE", "RUNNING", 1)
    assert active["conditions"][0]["status"] == "True"
    assert active["observedGeneration"] == 1


def test_fail_sets_error_and_the_fault() -> None:
    patch = lifecycle.fail({}, faults.no_valid_host("reasons.", now=NOW), generation=2, now=NOW)
    assert patch["status"] == "ERROR"
    assert patch["fault"] == {"code": 500, "message": "No valid host was found. reasons.", "created": NOW}
    assert patch["conditions"][0]["message"] == "No valid host was found. reasons."


def test_flavor_copy_disk_claim_and_backend_choice() -> None:
    copy = lifecycle.embedded_flavor("m1.small", {"vcpus": 1, "ram": 2048, "disk": 20, "swap": 1536, "ephemeral": 5})
    assert lifecycle.disk_gb(copy) == 27  # swap rounds up to whole GiB
    assert lifecycle.flavor_from_status(copy).ram == 2048
    claim = Claim("h1", 1, 2048, 27)
    assert lifecycle.claim_from_status({"claim": lifecycle.claim_status(claim)}) == claim
    assert lifecycle.claim_from_status({}) is None
    assert lifecycle.backend_of({}, {"extraSpecs": {"kubenova:backend": "kubevirt"}}, "container") == "kubevirt"
    assert (
        lifecycle.backend_of({"backend": "container"}, {"extraSpecs": {"kubenova:backend": "kubevirt"}}, "x")
        == "container"
    )
    assert lifecycle.backend_of({}, {}, "container") == "container"


def test_action_history_records_start_and_finish_and_stays_short() -> None:
    history: dict[str, object] = {"actions": []}
    for i in range(25):
        history = {"actions": lifecycle.start_action(history, f"a{i}", now=NOW)}
        history = {"actions": lifecycle.finish_action(history, now=NOW)}
    actions = history["actions"]
    assert isinstance(actions, list)
    assert len(actions) == lifecycle.HISTORY
    assert actions[-1]["action"] == "a24"
    assert actions[-1]["requestId"].startswith("req-")
    assert actions[-1]["result"] == "Success"
    assert lifecycle.finish_action(history, now=NOW) is None
