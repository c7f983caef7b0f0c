"""Killing the operator (SIGKILL, as a crash or an evicted Pod would) at different moments of a
build never duplicates a workload nor loses or doubles a claim: each Server ends ACTIVE with
exactly one workload, on the host its claim names, and each Host's usage is the sum of its
servers' flavors."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from kubenova.backends.workload import SERVER_LABEL
from tests import waiting

pytestmark = pytest.mark.integration
API = "compute.kubenova.io/v1alpha1"
SERVERS = 6  # per round: half Pods, half VirtualMachines
# Seconds between the creates and the kill: before the operator saw them, while claiming, while
# the workloads are made, while they start.
KILL_AFTER = (0.0, 0.15, 0.4, 0.9)


def servers(namespace: str, round_: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": API,
            "kind": "Server",
            "metadata": {"name": f"r{round_}-s{i}", "namespace": namespace},
            "spec": {
                "flavor": "restart.small",
                "image": "quay.io/containerdisks/fedora:40",
                "backend": "kubevirt" if i % 2 else "container",
            },
        }
        for i in range(SERVERS)
    ]


def items(cluster: Cluster, kind: str, namespace: str, *args: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(cluster.kubectl("get", kind, "-n", namespace, *args, "-o", "json").stdout)[
        "items"
    ]
    return out


def test_killing_the_operator_during_builds_leaves_one_workload_and_one_claim_each(
    cluster: Cluster, operator: Operator, namespace: str
) -> None:
    cluster.apply(
        [
            {
                "apiVersion": API,
                "kind": "Flavor",
                "metadata": {"name": "restart.small"},
                "spec": {"vcpus": 1, "ram": 256},
            },
            # More servers than Nova's default quota of 10 instances.
            {
                "apiVersion": API,
                "kind": "Quota",
                "metadata": {"name": "default", "namespace": namespace},
                "spec": {"instances": -1, "cores": -1},
            },
        ]
    )
    for round_, delay in enumerate(KILL_AFTER):
        cluster.apply(servers(namespace, round_))
        time.sleep(delay)
        operator.kill()
        time.sleep(0.2)
        operator.start()

    def all_active() -> list[dict[str, Any]] | None:
        found = items(cluster, "servers", namespace)
        done = len(found) == SERVERS * len(KILL_AFTER) and all(
            (s.get("status") or {}).get("status") == "ACTIVE" and not s["status"].get("taskState") for s in found
        )
        return found if done else None

    found = waiting.until(all_active, timeout=120, what="every server ACTIVE")

    workloads = [
        *items(cluster, "pods", namespace, "-l", SERVER_LABEL),
        *items(cluster, "virtualmachines", namespace, "-l", SERVER_LABEL),
    ]
    per_server = Counter(w["metadata"]["labels"][SERVER_LABEL] for w in workloads)
    assert per_server == Counter({s["metadata"]["name"]: 1 for s in found})
    for s in found:
        assert s["status"]["claim"]["host"] == s["status"]["host"]
        assert [a["action"] for a in s["status"]["actions"]] == ["create"]
    pods = {p["metadata"]["name"]: p for p in items(cluster, "pods", namespace, "-l", SERVER_LABEL)}
    for s in found:
        if s["spec"]["backend"] == "container":
            assert pods[s["metadata"]["name"]]["spec"]["nodeName"] == s["status"]["host"]

    # Each Host counts each of these servers once (Host status may trail by a moment).
    claimed = Counter(s["status"]["host"] for s in found)

    def usage_matches() -> bool:
        for host, count in claimed.items():
            status = json.loads(cluster.kubectl("get", "host", host, "-o", "json").stdout)["status"]
            mine = [x for x in status.get("servers", []) if x.get("namespace") == namespace]
            if len(mine) != count:
                return False
        return True

    waiting.until(usage_matches, what="host usage counts each server once")
