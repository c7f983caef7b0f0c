"""The chaos test's cluster (tests/integration/test_chaos.py): its zone of compute Nodes, flavors,
Images and claims; :func:`retried`, a call made again while kube-apiserver is coming back; and
:func:`cleared`, the wait for a namespace's workloads to go before the test's Nodes do (also used by
tests/integration/test_apiserver_faults.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx2 as httpx
from lightkube import ApiError, Client

from hack.devcluster import nodes
from hack.devcluster.cluster import ClusterError
from tests import chaos, waiting
from tests import kube as k
from tests.integration.conftest import Made

ZONE = "chaos"
FLAVORS = ("chaos.small", "chaos.medium")
IMAGES = ("nginx:1.27", "nginx:1.28")  # the container servers' (a VM boots an Image: see vm_images)
DISKS = ("quay.io/containerdisks/fedora:40", "quay.io/containerdisks/fedora:41")
T = TypeVar("T")


def retried(call: Callable[[], T]) -> T:
    """``call``, again while the API server is coming back (a dropped connection, a 5xx, a 429)."""

    def attempt() -> tuple[T] | None:
        try:
            return (call(),)
        except (httpx.HTTPError, ClusterError):
            return None
        except ApiError as exc:
            # 429: "storage is (re)initializing", a resource's storage after a restart.
            if exc.status.code and (exc.status.code >= 500 or exc.status.code == 429):
                return None
            raise

    return waiting.until(attempt, timeout=120, interval=0.5, what="the API server to answer")[0]


def cleared(kube: Client, namespace: str) -> None:
    """Wait until the namespace's servers and every Pod (virt-launchers too) and VM are gone:
    the Nodes made for the test go next, and a Pod left bound to a deleted Node is never
    finished by kwok, which would keep the namespace Terminating for later tests to wait on."""

    def empty() -> bool:
        return not any(k.items(kube, kind, namespace) for kind in ("server", "pod", "virtualmachine"))

    waiting.until(lambda: retried(empty), timeout=180, interval=1, what=f"namespace {namespace} emptied")


def vm_images(namespace: str) -> tuple[str, str]:
    """The two Images the VMs boot and are rebuilt with (a root disk to snapshot)."""
    return f"chaos-{namespace}-40", f"chaos-{namespace}-41"


def pvc(name: str, namespace: str) -> dict[str, Any]:
    """A claim that never binds here (no provisioner): attached needs only that it exists."""
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}  # fmt: skip


def prepare(kube: Client, namespace: str, made: Made, *, hosts: int, servers: int) -> list[str]:
    """``hosts`` compute Nodes in a zone of their own (an Aggregate, so that only these hosts take
    the chaos servers and their usage is theirs), the flavors, an unlimited Quota, the VMs' Images
    and two claims per VM; the Hosts' names once they are up in the zone."""
    compute = nodes.compute_nodes(hosts, prefix="chaos", first=700, zones=())
    names = [n["metadata"]["name"] for n in compute]
    made.apply(compute)
    for h in names:
        made.track("node", h)
    made.apply(
        [
            k.flavor(FLAVORS[0], vcpus=1, ram=256, disk=1),
            k.flavor(FLAVORS[1], vcpus=2, ram=512, disk=1),
            k.manifest("Quota", "default", namespace, instances=-1, cores=-1, ram=-1),
            k.manifest("Aggregate", ZONE, hosts=names, availabilityZone=ZONE),
            *(
                k.manifest("Image", image, source={"containerDisk": disk}, visibility="public")
                for image, disk in zip(vm_images(namespace), DISKS, strict=True)
            ),
        ]
    )
    made.apply([pvc(c, namespace) for i in range(1, servers, 2) for c in chaos.volume_claims(f"c{i:03d}")])

    def ready(s: dict[str, Any]) -> bool:
        return s.get("state") == "up" and s.get("availabilityZone") == ZONE

    for h in names:
        k.wait_for(kube, "host", h, check=ready, timeout=60, what=f"host {h} up in zone {ZONE}")
    return names
