"""A Pod event's body spares the read of the Pod only when nothing would be done to it."""

from __future__ import annotations

import dataclasses
from typing import Any

from kubenova.backends import container
from kubenova.backends.workload import REVISION_ANNOTATION, Flavor, PlacedServer
from kubenova.kube import workloads

SERVER = PlacedServer(
    name="web",
    namespace="demo",
    uid="u",
    flavor=Flavor("m1.small", vcpus=1, ram=512, disk=1),
    host="compute-1",
    revision="r2",
)


def pod(
    *, node: str = "compute-1", revision: str = "r2", deleting: bool = False, phase: str = "Running"
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "annotations": {REVISION_ANNOTATION: revision}}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node}, "status": {"phase": phase}}


def in_order(body: dict[str, Any], server: PlacedServer = SERVER) -> bool:
    return workloads._in_order(container.observe(body), server)


def test_the_current_pod_on_the_servers_host_is_in_order() -> None:
    assert in_order(pod())
    assert in_order(pod(phase="Pending"))


def test_any_other_pod_is_read_first() -> None:
    assert not in_order(pod(node="compute-2"))  # the old copy of a move
    assert not in_order(pod(revision="r1"))  # an old boot (rebuild, resize)
    assert not in_order(pod(deleting=True))
    assert not in_order(pod(phase="Succeeded"))
    assert not in_order(pod(), dataclasses.replace(SERVER, host="compute-2"))
