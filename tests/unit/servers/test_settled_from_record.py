"""A ServerAction whose end the Server's history has but the ServerAction lacks (the operator
killed between the two writes; found by the chaos test) is settled from the record."""

from __future__ import annotations

from kubenova.servers import tasks

NOW = "2026-12-01T12:00:00Z"


def test_a_running_record_settles_nothing() -> None:
    assert tasks.settled_from_record({"requestId": "req-1", "action": "revertResize"}, now=NOW) is None


def test_a_finished_record_settles_succeeded_or_failed_with_its_message() -> None:
    ok = tasks.settled_from_record({"requestId": "req-1", "finishTime": NOW, "result": "Success"}, now=NOW)
    assert ok is not None
    assert (ok["phase"], ok["requestId"], ok["message"]) == ("Succeeded", "req-1", "Done.")
    record = {"requestId": "req-2", "finishTime": NOW, "result": "Error", "message": "No valid host was found."}
    failed = tasks.settled_from_record(record, now=NOW)
    assert failed is not None
    assert (failed["phase"], failed["message"]) == ("Failed", "No valid host was found.")
    assert failed["conditions"][0]["status"] == "True"
