"""accept: what the API server could not check (references to other objects), then BUILD and
the claim in one write; refusals end in ERROR with Nova's message and one Warning."""

from __future__ import annotations

from kubenova import quotas
from kubenova.servers import build, plan
from kubenova.servers.outcome import NOTHING, Outcome
from tests.unit.servers.fakes import NOW, UID, World, server


def test_a_new_server_is_accepted_and_placed_in_one_write() -> None:
    world = World()
    outcome = build.accept(server(), world.facts(), NOW)
    patch = outcome.patch
    assert patch is not None
    assert (patch["vmState"], patch["taskState"], patch["status"]) == ("building", "spawning", "BUILD")
    assert patch["id"] == UID
    assert patch["backend"] == "container"
    assert patch["flavor"]["originalName"] == "m1.small"
    assert patch["host"] in ("h1", "h2")
    assert patch["claim"] == {"host": patch["host"], "vcpus": 1, "memoryMb": 1024, "diskGb": 5}
    assert patch["workload"]["kind"] == "Pod"
    assert patch["workload"]["revision"] == patch["actions"][-1]["requestId"]
    assert patch["actions"][-1]["action"] == "create"
    scheduled = next(c for c in patch["conditions"] if c["type"] == "Scheduled")
    assert scheduled["status"] == "True"
    assert outcome.claims == {"ns/s1": world.ledgers[-1].get("ns/s1")}
    assert outcome.charges == {"ns/s1": quotas.ServerUsage("s1", 1, 1024)}
    assert outcome.placed
    assert outcome.events == ()


def refusal(outcome: Outcome) -> tuple[int, str, str]:
    patch = outcome.patch
    assert patch is not None
    assert patch["vmState"] == "error"
    assert patch["actions"][-1]["result"] == "Error"
    assert outcome.claims == {}
    assert outcome.charges == {}
    (event,) = outcome.events
    assert event.type == "Warning"
    assert event.note == patch["fault"]["message"]
    return patch["fault"]["code"], event.reason, patch["fault"]["message"]


def test_a_missing_flavor_is_refused() -> None:
    outcome = build.accept(server(flavor="nope"), World().facts(), NOW)
    assert refusal(outcome) == (400, "BuildFailed", "Flavor nope could not be found.")
    assert "flavor" not in (outcome.patch or {})


def test_a_missing_keypair_is_refused() -> None:
    outcome = build.accept(server(keyName="bob"), World().facts(), NOW)
    assert refusal(outcome) == (400, "BuildFailed", "Invalid key_name provided: Keypair bob not found in ns.")


def test_a_keypair_without_a_key_yet_is_found() -> None:
    world = World(keypairs={("ns", "bob"): ""})
    assert build.accept(server(keyName="bob"), world.facts(), NOW).patch["vmState"] == "building"  # type: ignore[index]


def test_a_private_flavor_needs_the_namespace_on_its_access_list() -> None:
    world = World()
    world.flavors["m1.private"] = {**world.flavors["m1.small"], "isPublic": False, "access": ["other"]}
    outcome = build.accept(server(flavor="m1.private"), world.facts(), NOW)
    code, reason, message = refusal(outcome)
    assert (code, reason) == (400, "BuildFailed")
    assert message == "Flavor m1.private is private and namespace ns is not on its access list."
    world.flavors["m1.private"]["access"] = ["ns"]
    assert build.accept(server(flavor="m1.private"), world.facts(), NOW).events == ()


def test_the_container_backend_needs_an_image() -> None:
    outcome = build.accept(server(image=None), World().facts(), NOW)
    assert refusal(outcome)[2] == "The container backend needs spec.image; bootVolume is for kubevirt."


def test_too_many_metadata_items_are_over_quota() -> None:
    world = World()
    world.limits["metadata_items"] = 1
    outcome = build.accept(server(metadata={"a": "1", "b": "2"}), world.facts(), NOW)
    assert refusal(outcome) == (403, "QuotaExceeded", "Maximum number of metadata items exceeds 1")


def test_a_server_refused_for_quota_and_still_over_writes_nothing() -> None:
    world = World()
    world.limits["metadata_items"] = 1
    first = build.accept(server(metadata={"a": "1", "b": "2"}), world.facts(), NOW)
    assert first.patch is not None
    again = server({**first.patch}, metadata={"a": "1", "b": "2"})
    assert plan.phase(again) is plan.Phase.ACCEPT
    assert build.accept(again, world.facts(), NOW) == NOTHING
    world.limits["metadata_items"] = 10  # room now: accepted, and the refusal's fault is cleared
    accepted = build.accept(again, world.facts(), NOW).patch
    assert accepted is not None
    assert accepted["vmState"] == "building"
    assert accepted["fault"] is None
