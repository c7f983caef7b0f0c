"""A Host's status as os-hypervisors and os-services would show it."""

from __future__ import annotations

from typing import Any

from kubenova import hosts, labels
from kubenova.scheduling.claims import Claim

NODE: dict[str, Any] = {
    "metadata": {"name": "compute-0", "labels": {labels.COMPUTE_HOST: "true"}},
    "status": {
        "capacity": {"cpu": "32", "memory": "128Gi", "ephemeral-storage": "1Ti", "pods": "250"},
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "InternalIP", "address": "10.240.0.1"}],
    },
}
RATIOS = {"cpu": 4.0, "ram": 1.0, "disk": 1.0}


def status(node: hosts.NodeFacts | None, spec: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return hosts.status(
        node=node,
        spec=spec or {},
        generation=1,
        previous={},
        usage=kw.pop("usage", hosts.Usage()),
        reserved_memory_mb=512,
        ratios=RATIOS,
        now="T",
        **kw,
    )


def test_node_facts_read_capacity_in_novas_units() -> None:
    facts = hosts.NodeFacts.from_node(NODE)
    assert (facts.vcpus, facts.memory_mb, facts.local_gb) == (32, 131072, 1024)
    assert facts.ready
    assert facts.compute
    assert facts.host_ip == "10.240.0.1"


def test_an_up_enabled_host_is_ready_in_the_default_zone() -> None:
    s = status(hosts.NodeFacts.from_node(NODE))
    assert (s["state"], s["status"], s["availabilityZone"]) == ("up", "enabled", "nova")
    assert (s["vcpus"], s["memoryMb"], s["localGb"]) == (32, 131072, 1024)
    assert s["memoryMbUsed"] == 512  # reserved memory counts as used, as in os-hypervisors
    assert s["conditions"][0]["status"] == "True"
    assert s["observedGeneration"] == 1


def test_disabled_shows_the_reason_and_is_not_ready() -> None:
    s = status(hosts.NodeFacts.from_node(NODE), {"enabled": False, "disabledReason": "firmware upgrade"})
    assert (s["state"], s["status"]) == ("up", "disabled")
    assert s["conditions"][0]["reason"] == "Disabled"
    assert s["conditions"][0]["message"] == "firmware upgrade"


def test_forced_down_and_not_ready_nodes_are_down() -> None:
    assert status(hosts.NodeFacts.from_node(NODE), {"forcedDown": True})["state"] == "down"
    not_ready = {**NODE, "status": {**NODE["status"], "conditions": [{"type": "Ready", "status": "False"}]}}
    assert status(hosts.NodeFacts.from_node(not_ready))["state"] == "down"


def test_a_missing_node_keeps_the_last_known_capacity_and_is_down() -> None:
    s = hosts.status(
        node=None, spec={}, generation=1, previous={"vcpus": 32, "memoryMb": 1024, "hostIp": "10.0.0.1"},
        usage=hosts.Usage(vcpus=2, memory_mb=2048, local_gb=20, servers=(("demo", "web", "u1"),)),
        reserved_memory_mb=512, ratios=RATIOS, now="T",
    )  # fmt: skip
    assert s["state"] == "down"
    assert s["conditions"][0]["reason"] == "NodeMissing"
    assert (s["vcpus"], s["vcpusUsed"], s["memoryMbUsed"], s["runningVms"]) == (32, 2, 2560, 1)
    assert s["servers"] == [{"namespace": "demo", "name": "web", "uid": "u1"}]


def test_zone_and_aggregates_are_reported() -> None:
    s = status(hosts.NodeFacts.from_node(NODE), zone="az1", aggregates=["b", "a"])
    assert s["availabilityZone"] == "az1"
    assert s["aggregates"] == ["a", "b"]


def test_a_server_holds_its_claims_and_a_same_host_resize_adds_up() -> None:
    claims = [Claim("h1", 2, 2048, 20), Claim("h1", 4, 4096, 40), Claim("h2", 1, 512, 10)]
    held = hosts.held_on_hosts("ns", "web", "uid-1", claims)
    assert held == {
        "h1": hosts.ServerOnHost("ns", "web", "uid-1", 6, 6144, 60),
        "h2": hosts.ServerOnHost("ns", "web", "uid-1", 1, 512, 10),
    }
    assert hosts.held_on_hosts("ns", "web", "uid-1", []) == {}


def test_usage_sums_what_the_servers_on_a_host_hold() -> None:
    usage = hosts.Usage.of(
        [hosts.ServerOnHost("ns", "a", "u1", 2, 2048, 20), hosts.ServerOnHost("other", "b", "u2", 1, 1024, 10)]
    )
    assert usage == hosts.Usage(3, 3072, 30, (("ns", "a", "u1"), ("other", "b", "u2")))
    assert hosts.Usage.of([]) == hosts.Usage()


def test_a_hosts_own_ratios_and_reserved_memory_win_over_the_defaults() -> None:
    defaults = {"cpu": 16.0, "ram": 1.5, "disk": 1.0}
    assert hosts.allocation_ratios({}, **defaults) == defaults
    assert hosts.allocation_ratios({"allocationRatios": {"cpu": 4.0}}, **defaults) == {**defaults, "cpu": 4.0}
    assert hosts.reserved_memory_mb({}, 512) == 512
    assert hosts.reserved_memory_mb({"reserved": {"memoryMb": 2048}}, 512) == 2048


def test_a_server_runs_until_stopped_and_settled() -> None:
    assert hosts.running({"vmState": "active"})
    assert hosts.running({"vmState": "paused"})
    assert hosts.running({"vmState": "stopped", "taskState": "powering-on"})
    assert not hosts.running({"vmState": "stopped"})
    assert not hosts.running({"vmState": "error"})
    held = hosts.held_on_hosts("ns", "web", "uid-1", [Claim("h1", 1, 256, 1)], runs=True)
    assert held["h1"].running
    usage = hosts.Usage.of([held["h1"], hosts.ServerOnHost("ns", "off", "u2", 1, 256, 1)])
    assert (len(usage.servers), usage.running) == (2, 1)


def test_maintenance_progress_counts_what_is_left_on_the_host() -> None:
    one_running = hosts.Usage(2, 512, 2, (("ns", "a", "u1"), ("ns", "b", "u2")), running=1)
    assert hosts.maintenance({}, one_running) is None
    assert hosts.maintenance({"maintenance": "migrate"}, one_running) == {
        "mode": "migrate", "state": "in-progress", "serversLeft": 2,
    }  # fmt: skip
    assert hosts.maintenance({"maintenance": "stop"}, one_running) == {
        "mode": "stop", "state": "in-progress", "serversLeft": 1,
    }  # fmt: skip
    stopped = hosts.Usage(1, 256, 1, (("ns", "a", "u1"),), running=0)
    assert hosts.maintenance({"maintenance": "stop"}, stopped)["state"] == "complete"  # type: ignore[index]
    assert hosts.maintenance({"maintenance": "migrate"}, hosts.Usage()) == {
        "mode": "migrate", "state": "complete", "serversLeft": 0,
    }  # fmt: skip
    # In the status, None: the merge patch removes what a finished maintenance left.
    assert status(hosts.NodeFacts.from_node(NODE))["maintenance"] is None


def test_a_status_written_while_a_usage_write_is_due_keeps_the_reported_usage() -> None:
    """A Node's heartbeat or the Host's own event, while its usage write waits for the interval:
    the usage stays as reported, the rest follows."""
    facts = hosts.NodeFacts.from_node(NODE)
    a, b = hosts.ServerOnHost("ns", "a", "u1", 2, 2048, 20), hosts.ServerOnHost("ns", "b", "u2", 1, 1, 1)
    reported = status(facts, usage=hosts.Usage.of([a]))
    now = hosts.Usage.of([a, b])
    kept = hosts.status(
        node=facts, spec={"enabled": False}, generation=2, previous=reported, usage=now,
        reserved_memory_mb=512, ratios=RATIOS, now="T", report_usage=False,
    )  # fmt: skip
    assert {k: kept[k] for k in hosts.USAGE_FIELDS} == {k: reported[k] for k in hosts.USAGE_FIELDS}
    assert kept["status"] == "disabled"
    assert status(facts, usage=now)["runningVms"] == 2
