"""What a Server's spec asks for next, in Nova's order."""

from __future__ import annotations

from typing import Any

import pytest

from kubenova.nova.actions import Action
from kubenova.servers import intent


def none(_: str | None) -> str | None:
    return None


def status(vm: str = "active", **extra: Any) -> dict[str, Any]:
    return {"vmState": vm, "image": "img:1", "flavor": {"originalName": "small"}, "host": "h1", **extra}


SPEC = {"image": "img:1", "flavor": "small", "state": "active"}


@pytest.mark.parametrize(
    ("spec", "st", "expected"),
    [
        (SPEC, status(), None),
        (SPEC | {"state": "stopped"}, status(), Action.STOP),
        (SPEC | {"state": "suspended"}, status("paused"), Action.UNPAUSE),  # no paused → suspended in Nova
        (SPEC | {"state": "shelved_offloaded"}, status(), Action.SHELVE),
        (SPEC | {"rescue": True}, status(), Action.RESCUE),
        (SPEC | {"image": "img:2"}, status(), Action.REBUILD),
        (SPEC | {"flavor": "big"}, status(), Action.RESIZE),
        (SPEC | {"flavor": "big", "state": "stopped"}, status(), Action.STOP),  # the state first, then the resize
        (SPEC | {"image": "img:2"}, status("error", claim={"host": "h1"}), Action.REBUILD),
        (SPEC | {"autoConfirmResize": True}, status("resized", migration={"kind": "resize"}), Action.CONFIRM_RESIZE),
    ],
)
def test_the_next_action(spec: dict[str, Any], st: dict[str, Any], expected: Action | None) -> None:
    assert intent.wanted(spec, st, none) == expected


def test_a_resize_waits_for_confirmation_and_says_so() -> None:
    said = intent.wanted(SPEC | {"flavor": "big"}, status("resized", migration={"kind": "resize"}), none)
    assert said == "The resize waits for a confirmResize or revertResize ServerAction."


def test_a_volume_is_attached_and_detached_while_a_resize_waits_for_confirmation() -> None:
    # Nova's attach_volume and detach_volume allow vm_state resized (found by the chaos test: the
    # attach waited for the confirm).
    waiting = status("resized", migration={"kind": "migration"})
    attach = SPEC | {"volumes": [{"claimName": "data"}]}
    assert intent.wanted(attach, waiting, none) == Action.ATTACH_VOLUME
    attached = waiting | {"volumeAttachments": [{"id": "data", "state": "attached"}]}
    assert intent.wanted(SPEC, attached, none) == Action.DETACH_VOLUME
    assert (
        intent.wanted(attach, attached, none) == "The migration waits for a confirmResize or revertResize ServerAction."
    )


def test_a_reverted_resize_is_not_made_again() -> None:
    migration = {"status": "reverted", "newFlavor": "big", "oldFlavor": "small"}
    said = intent.wanted(SPEC | {"flavor": "big"}, status(migration=migration), none)
    assert said == "The resize to big was reverted; set spec.flavor back to small, or to another flavor."


def test_an_error_without_a_host_waits_for_the_user() -> None:
    said = intent.wanted(SPEC, status("error", fault={"message": "No valid host was found."}), none)
    assert isinstance(said, str)
    assert said.startswith("The server is in ERROR (No valid host was found.)")


def test_host_maintenance_stops_or_moves_and_confirms() -> None:
    assert intent.wanted(SPEC, status(), lambda h: "stop" if h == "h1" else None) == Action.STOP
    assert intent.wanted(SPEC | {"state": "stopped"}, status("stopped"), lambda h: "stop") is None
    assert intent.wanted(SPEC, status(), lambda h: "migrate" if h == "h1" else None) == Action.MIGRATE
    moved = status("resized", host="h2", migration={"kind": "migration", "sourceHost": "h1"})
    assert intent.wanted(SPEC, moved, lambda h: "migrate" if h == "h1" else None) == Action.CONFIRM_RESIZE


def test_a_failed_action_is_not_retried_until_the_spec_changes() -> None:
    st = status(observedGeneration=4, actions=[{"action": "pause", "result": "Error"}])
    assert intent.failed_already(Action.PAUSE, st, 4)
    assert not intent.failed_already(Action.PAUSE, st, 5)
    assert not intent.failed_already(Action.STOP, st, 4)
