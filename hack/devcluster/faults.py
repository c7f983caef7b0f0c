"""Faults for the chaos tests: a control-plane process killed (SIGKILL, no cleanup) and started
again on the same ports and data, and a compute Node whose kubelet stops reporting.

The operator's own faults (SIGKILL, its webhook down with it) are :class:`operating.Operator`'s
``kill``/``start``.
"""

from __future__ import annotations

import json
import time

from hack.devcluster import processes
from hack.devcluster.cluster import KWOK_MANAGED, Cluster


def restart(cluster: Cluster, name: str, *, down: float = 0.0) -> None:
    """SIGKILL the child ``name`` ("kube-apiserver" or "etcd"), leave it dead ``down`` seconds,
    start it again with the same arguments and wait until the API server is ready again."""
    proc = cluster.child(name)
    proc.kill()
    time.sleep(down)
    proc.start(append=True)
    if name == "etcd":
        url = next(a.split("=", 1)[1] for a in proc.argv if a.startswith("--listen-client-urls="))
        proc.wait_until(lambda: processes.http_ok(f"{url}/health"), what="etcd again")
    api = cluster.child("kube-apiserver")
    api.wait_until(lambda: processes.http_ok(f"{cluster.api_url}/readyz", cluster.ssl_context()), what="readyz again")


def node_lost(cluster: Cluster, node: str) -> None:
    """Take ``node`` away from kwok (as if its kubelet died) and report it NotReady."""
    cluster.kubectl("annotate", "node", node, f"{KWOK_MANAGED[0]}-")
    stale = "2026-01-01T00:00:00Z"
    ready = {"type": "Ready", "status": "False", "reason": "KubeletDown", "message": "chaos",
             "lastHeartbeatTime": stale, "lastTransitionTime": stale}  # fmt: skip
    patch = json.dumps([{"op": "replace", "path": "/status/conditions", "value": [ready]}])
    cluster.kubectl("patch", "node", node, "--subresource=status", "--type=json", "-p", patch)


def node_back(cluster: Cluster, node: str) -> None:
    """Hand ``node`` back to kwok, which reports it Ready again."""
    cluster.kubectl("annotate", "node", node, "=".join(KWOK_MANAGED), "--overwrite")
