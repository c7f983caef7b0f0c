"""Aggregate and ServerGroup status, pure."""

from __future__ import annotations

from kubenova import groups

NOW = "2026-11-29T00:00:00Z"


def test_an_aggregate_lists_its_compute_hosts_and_names_the_missing_ones() -> None:
    st = groups.aggregate_status(
        uid="u1",
        spec={"hosts": ["a", "b", "a"], "availabilityZone": "az1"},
        compute_hosts=["a", "c"],
        previous={},
        generation=3,
        now=NOW,
    )
    assert (st["id"], st["availabilityZone"], st["hosts"], st["missingHosts"]) == ("u1", "az1", ["a"], ["b"])
    (ready,) = st["conditions"]
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("False", "HostsMissing", 3)
    assert "b" in ready["message"]


def test_an_aggregate_of_known_hosts_is_ready() -> None:
    st = groups.aggregate_status(
        uid="u", spec={"hosts": ["a"]}, compute_hosts=["a"], previous={}, generation=1, now=NOW
    )
    assert st["availabilityZone"] is None
    assert st["conditions"][0]["status"] == "True"


def test_a_server_group_lists_members_once_and_their_hosts() -> None:
    st = groups.server_group_status(
        uid="g", namespace="ns", members=["b", "a", "b"], hosts=["h2", "h1", "h2"], previous={}, generation=1, now=NOW
    )
    assert st["members"] == [{"namespace": "ns", "name": "a"}, {"namespace": "ns", "name": "b"}]
    assert (st["memberCount"], st["hosts"]) == (2, ["h1", "h2"])
