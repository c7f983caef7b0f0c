"""Every compute Node gets a Host whose status reads like os-hypervisors and os-services, and
follows the Node and the admin's spec."""

from __future__ import annotations

import time
from typing import Any

import pytest
from lightkube import Client

from hack.devcluster import nodes
from hack.devcluster.cluster import Cluster
from hack.devcluster.operating import Operator
from kubenova.config import Settings
from tests import kube as k
from tests import waiting
from tests.integration.conftest import Made, no_namespace_terminating

pytestmark = pytest.mark.integration


def wait_up(kube: Client, name: str) -> dict[str, Any]:
    return k.wait_for(kube, "host", name, check=lambda s: s.get("state") == "up", what=f"{name} up")


def test_hosts_appear_for_compute_nodes_with_their_capacity(cluster: Cluster, kube: Client, operator: Operator) -> None:
    for name in ("compute-0", "compute-1", "compute-2"):
        status = wait_up(kube, name)
        assert status["vcpus"] == 32
        assert status["memoryMb"] == 128 * 1024
        assert status["localGb"] == 1024
        assert status["state"] == "up"
        assert status["status"] == "enabled"
        assert status["availabilityZone"] == "nova"
        assert status["hostIp"].startswith("10.240.")
    cluster.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "host/compute-0")
    listing = cluster.kubectl("get", "hosts").stdout
    assert "compute-0" in listing


def test_disabling_a_host_shows_disabled_with_its_reason(
    cluster: Cluster, kube: Client, operator: Operator, made: Made
) -> None:
    made.add_nodes(1, prefix="disable", first=900)
    wait_up(kube, "disable-900")
    cluster.kubectl(
        "patch", "host", "disable-900", "--type=merge",
        "-p", '{"spec": {"enabled": false, "disabledReason": "firmware upgrade"}}',
    )  # fmt: skip
    status = k.wait_for(
        kube, "host", "disable-900", check=lambda s: s.get("status") == "disabled", what="the Host to be disabled"
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "Disabled", "firmware upgrade")


def test_a_node_going_not_ready_marks_its_host_down(
    cluster: Cluster, kube: Client, operator: Operator, made: Made
) -> None:
    made.add_nodes(1, prefix="flaky", first=910)
    wait_up(kube, "flaky-910")
    # Take the node away from kwok (as if its kubelet died), then report it NotReady.
    cluster.kubectl("annotate", "node", "flaky-910", "kwok.x-k8s.io/node-")
    cluster.kubectl(
        "patch", "node", "flaky-910", "--subresource=status", "--type=json",
        "-p", '[{"op": "replace", "path": "/status/conditions", "value": [{"type": "Ready", "status": "False", '
        '"reason": "KubeletDown", "message": "test", "lastHeartbeatTime": "2026-01-01T00:00:00Z", '
        '"lastTransitionTime": "2026-01-01T00:00:00Z"}]}]',
    )  # fmt: skip
    k.wait_for(kube, "host", "flaky-910", check=lambda s: s.get("state") == "down", what="the Host down")


def test_deleting_the_node_of_an_empty_host_removes_the_host(
    cluster: Cluster, kube: Client, operator: Operator, made: Made
) -> None:
    made.apply([nodes.compute_node("gone-920", index=920)])
    wait_up(kube, "gone-920")
    cluster.kubectl("delete", "node", "gone-920")
    waiting.until(lambda: k.get(kube, "host", "gone-920") == {}, what="the Host to go")


USAGE_INTERVAL: float = Settings.model_fields["usage_interval_seconds"].default
"""The operator's ``KUBENOVA_USAGE_INTERVAL_SECONDS``: the tests' operator keeps the default."""


def quiet(kube: Client, host: str, *, window: float, timeout: float = 120) -> str:
    """Wait until ``host`` has not been written for ``window`` seconds; return its resourceVersion."""
    deadline = time.monotonic() + timeout
    version: str = k.get(kube, "host", host)["metadata"]["resourceVersion"]
    since = time.monotonic()
    while time.monotonic() - since < window:
        assert time.monotonic() < deadline, f"{host} was still being written after {timeout:.0f}s"
        time.sleep(1)
        now = k.get(kube, "host", host)["metadata"]["resourceVersion"]
        if now != version:
            version, since = now, time.monotonic()
    return version


def test_an_idle_resync_writes_nothing(cluster: Cluster, kube: Client, operator: Operator) -> None:
    wait_up(kube, "compute-0")
    # Idle first: no namespace of an earlier test still deleting its servers (and so writing
    # the Hosts' usage).
    no_namespace_terminating(cluster, kube, timeout=120)
    # And no usage write of theirs still due: the operator writes a Host's usage at most once per
    # usage interval, so their last deletions may reach it that long after their namespaces are
    # gone; a restart before then rightly writes it (CI saw one).
    before = quiet(kube, "compute-0", window=USAGE_INTERVAL + 2)
    operator.restart()  # a restart re-lists everything: it must not rewrite unchanged statuses
    # Absence of writes can only be observed over a window: a few seconds after the operator is
    # healthy again it has listed and handled every Host.
    time.sleep(3)
    assert k.get(kube, "host", "compute-0")["metadata"]["resourceVersion"] == before
