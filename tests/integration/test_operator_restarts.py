"""Killing the operator (SIGKILL, as a crash or an evicted Pod would) at different moments of a
build never duplicates a workload nor loses or doubles a claim: each Server ends ACTIVE with
exactly one workload, on the host its claim names, and each Host's usage is the sum of its
servers' flavors."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from kubenova.backends.workload import SERVER_LABEL
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made

pytestmark = pytest.mark.integration
SERVERS = 6  # per round: half Pods, half VirtualMachines
# Seconds between the creates and the kill: before the operator saw them, while claiming, while
# the workloads are made, while they start.
KILL_AFTER = (0.0, 0.15, 0.4, 0.9)


def servers(namespace: str, round_: int) -> list[dict[str, Any]]:
    return [
        k.server(
            f"r{round_}-s{i}",
            namespace,
            flavor="restart.small",
            image="quay.io/containerdisks/fedora:40",
            backend="kubevirt" if i % 2 else "container",
        )
        for i in range(SERVERS)
    ]


def test_killing_the_operator_during_builds_leaves_one_workload_and_one_claim_each(
    cluster: Cluster, kube: Client, operator: Operator, namespace: str, made: Made
) -> None:
    made.apply(
        [
            k.flavor("restart.small", vcpus=1, ram=256),
            # More servers than Nova's default quota of 10 instances.
            k.manifest("Quota", "default", namespace, instances=-1, cores=-1),
        ]
    )
    for round_, delay in enumerate(KILL_AFTER):
        cluster.apply(servers(namespace, round_))
        time.sleep(delay)
        operator.kill()
        time.sleep(0.2)
        operator.start()

    def all_active() -> list[dict[str, Any]] | None:
        found = k.items(kube, "server", namespace)
        done = len(found) == SERVERS * len(KILL_AFTER) and all(
            (s.get("status") or {}).get("status") == "ACTIVE" and not s["status"].get("taskState") for s in found
        )
        return found if done else None

    found = waiting.until(all_active, timeout=120, what="every server ACTIVE")

    workloads = k.workloads(kube, namespace)
    pods = [w for w in workloads if "nodeName" in w["spec"]]  # a VirtualMachine's spec has none
    per_server = Counter(w["metadata"]["labels"][SERVER_LABEL] for w in workloads)
    assert per_server == Counter({s["metadata"]["name"]: 1 for s in found})
    for s in found:
        assert s["status"]["claim"]["host"] == s["status"]["host"]
        assert [a["action"] for a in s["status"]["actions"]] == ["create"]
    by_name = {p["metadata"]["name"]: p for p in pods}
    for s in found:
        if s["spec"]["backend"] == "container":
            assert by_name[s["metadata"]["name"]]["spec"]["nodeName"] == s["status"]["host"]

    # Each Host counts each of these servers once (Host status may trail by a moment).
    claimed = Counter(s["status"]["host"] for s in found)

    def usage_matches() -> bool:
        for host, count in claimed.items():
            status = k.get(kube, "host", host)["status"]
            mine = [x for x in status.get("servers", []) if x.get("namespace") == namespace]
            if len(mine) != count:
                return False
        return True

    waiting.until(usage_matches, what="host usage counts each server once")
