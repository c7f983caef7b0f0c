"""delete: DELETING is written before the workload goes; a locked server waits and says so once."""

from __future__ import annotations

from kubenova.servers import plan
from kubenova.servers.outcome import NOTHING
from tests.unit.servers.fakes import NOW, UID, active, server


def test_a_deleted_server_is_deleting_then_releases_its_claims() -> None:
    s = server(active())
    out = plan.delete(s, NOW)
    assert out.patch is not None
    assert (out.patch["vmState"], out.patch["taskState"]) == ("active", "deleting")
    assert plan.deletable(s)
    assert plan.delete(server({**active(), **out.patch}), NOW) == NOTHING
    released = plan.released(s)
    assert released.patch is None
    assert released.claims == {"ns/s1": None, "ns/s1@source": None}
    assert released.charges == {"ns/s1": None}


def test_a_server_never_built_is_deleting_from_building() -> None:
    out = plan.delete(server(), NOW)
    assert out.patch is not None
    assert (out.patch["vmState"], out.patch["taskState"]) == ("building", "deleting")


def test_a_locked_server_is_not_deleted_and_says_so_once() -> None:
    s = server(active(), locked=True)
    out = plan.delete(s, NOW)
    assert out.patch is not None
    assert out.patch["fault"]["code"] == 409
    assert out.patch["fault"]["message"] == f"Instance {UID} is locked"
    assert [e.reason for e in out.events] == ["Locked"]
    assert not plan.deletable(s)
    assert plan.delete(server({**active(), **out.patch}, locked=True), NOW) == NOTHING
