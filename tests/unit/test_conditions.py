"""Conditions change their transition time only when they flip, and status comparison ignores
what a merge patch would not change."""

from __future__ import annotations

from kubenova import conditions


def test_a_new_condition_gets_the_current_time_and_generation() -> None:
    conds = conditions.set_condition([], type="Ready", status=True, reason="Ok", generation=3, now="T1")
    assert conds == [
        {"type": "Ready", "status": "True", "reason": "Ok", "message": "", "lastTransitionTime": "T1",
         "observedGeneration": 3}
    ]  # fmt: skip


def test_the_transition_time_is_kept_while_the_status_holds_and_moves_when_it_flips() -> None:
    first = conditions.set_condition([], type="Ready", status=True, reason="Ok", generation=1, now="T1")
    same = conditions.set_condition(first, type="Ready", status=True, reason="Still", generation=2, now="T2")
    assert same[0]["lastTransitionTime"] == "T1"
    assert same[0]["reason"] == "Still"
    flipped = conditions.set_condition(same, type="Ready", status=False, reason="Down", generation=2, now="T3")
    assert flipped[0]["lastTransitionTime"] == "T3"


def test_other_conditions_are_kept_in_a_stable_order() -> None:
    conds = conditions.set_condition([], type="Scheduled", status=True, reason="A", generation=1, now="T")
    conds = conditions.set_condition(conds, type="Ready", status=False, reason="B", generation=1, now="T")
    assert [c["type"] for c in conds] == ["Ready", "Scheduled"]
    assert conditions.is_true(conds, "Scheduled")
    assert not conditions.is_true(conds, "Ready")
    assert not conditions.is_true(conds, "Missing")


def test_differs_follows_merge_patch_semantics() -> None:
    current = {"a": 1, "owned-by-someone-else": 2}
    assert not conditions.differs(current, {"a": 1})
    assert not conditions.differs(current, {"absent": None})
    assert conditions.differs(current, {"a": None})
    assert conditions.differs(current, {"a": 2})


def test_differs_ignores_condition_timestamps_only() -> None:
    before = conditions.set_condition([], type="Ready", status=True, reason="Ok", generation=1, now="T1")
    after = conditions.set_condition([], type="Ready", status=True, reason="Ok", generation=1, now="T2")
    assert not conditions.differs({"conditions": before}, {"conditions": after})
    other = conditions.set_condition([], type="Ready", status=True, reason="Other", generation=1, now="T1")
    assert conditions.differs({"conditions": before}, {"conditions": other})


def test_ready_sets_the_ready_condition_of_a_status_as_set_condition_would() -> None:
    previous = {
        "conditions": conditions.set_condition([], type="Scheduled", status=True, reason="A", generation=1, now="T")
    }
    conds = conditions.ready(previous, ok=False, reason="B", message="m", generation=2, now="T2")
    assert conds == conditions.set_condition(
        previous["conditions"], type="Ready", status=False, reason="B", message="m", generation=2, now="T2"
    )
    assert conditions.ready({}, ok=True, reason="Ok", generation=None, now="T") == [
        {"type": "Ready", "status": "True", "reason": "Ok", "message": "", "lastTransitionTime": "T"}
    ]
