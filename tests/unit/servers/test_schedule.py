"""schedule: the quota check and the claim under the scheduler's lock; No valid host is ERROR
with Nova's message, and the server still counts against the quota."""

from __future__ import annotations

from kubenova import quotas
from kubenova.scheduling.claims import Claim
from kubenova.scheduling.model import HostState
from kubenova.servers import build, plan
from tests.unit.servers.fakes import NOW, World, server


def test_the_claim_goes_where_it_fits_and_into_the_ledger() -> None:
    world = World(hosts=[HostState("small", 1, 1024, 100), HostState("big", 4, 8192, 100)])
    outcome = build.accept(server(), world.facts(), NOW)
    assert outcome.patch is not None
    assert outcome.patch["host"] == "big"
    assert outcome.claims == {"ns/s1": Claim("big", 1, 1024, 5)}
    assert world.ledgers[-1].get("ns/s1") == Claim("big", 1, 1024, 5)


def test_no_valid_host_is_error_and_still_counts() -> None:
    world = World(hosts=[HostState("tiny", 1, 1024, 1)])
    outcome = build.accept(server(), world.facts(), NOW)
    patch = outcome.patch
    assert patch is not None
    assert patch["vmState"] == "error"
    assert patch["fault"]["code"] == 500
    assert patch["fault"]["message"].startswith("No valid host was found.")
    assert patch["flavor"]["originalName"] == "m1.small"  # Nova counts a server in ERROR
    scheduled = next(c for c in patch["conditions"] if c["type"] == "Scheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "NoValidHost")
    assert outcome.claims == {}
    assert outcome.charges["ns/s1"] is not None
    assert [e.reason for e in outcome.events] == ["NoValidHost"]


def test_the_quota_is_checked_against_what_is_admitted_already() -> None:
    world = World(used=[quotas.ServerUsage(f"s{i}", 2, 1024) for i in range(10)])
    world.limits["instances"] = 11
    world.limits["cores"] = 20
    outcome = build.accept(server(name="new"), world.facts(), NOW)
    patch = outcome.patch
    assert patch is not None
    assert patch["fault"]["code"] == 403
    assert patch["fault"]["message"] == "Quota exceeded for cores: Requested 1, but already used 20 of 20 cores"
    assert "flavor" not in patch  # refused for quota: holds nothing, tried again when there is room
    assert quotas.refused(patch)
    assert outcome.charges == {}
    assert [e.reason for e in outcome.events] == ["QuotaExceeded"]


def test_a_group_full_of_members_is_over_quota() -> None:
    world = World(groups={("ns", "g"): {"policy": "anti-affinity"}}, members={("ns", "g"): ["a", "b", "new"]})
    world.limits["server_group_members"] = 2
    outcome = build.accept(server(name="new", schedulerHints={"group": "g"}), world.facts(), NOW)
    assert outcome.patch is not None
    assert outcome.patch["fault"]["message"] == "Quota exceeded, too many servers in group"


def test_a_restart_between_claim_and_write_keeps_the_claim() -> None:
    world = World(claims={"ns/s1": Claim("h2", 1, 1024, 5)})
    accepted = build.accept(server(), world.facts(), NOW).patch
    assert accepted is not None
    assert accepted["host"] == "h2"
    scheduling = {**accepted, "taskState": "scheduling", "claim": None, "host": None}
    assert plan.phase(server(scheduling)) is plan.Phase.SCHEDULE
    again = build.schedule(server(scheduling), world.facts(), NOW)
    assert again.patch is not None
    assert again.patch["host"] == "h2"
    assert again.charges == {}  # charged when it was accepted
    assert not again.placed
