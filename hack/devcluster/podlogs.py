"""Pod logs in the dev cluster: kwok plays each simulated Node's kubelet for ``kubectl logs``.

No container runs here, so there is no real output. kwok serves a container's log from a file
named by a ``ClusterLogs`` rule (its ``kwok.x-k8s.io`` config kind), in the CRI log format a
kubelet reads; this module writes one such file for every Pod, with a few lines saying what it
is, and the rule that serves it. kube-apiserver reaches kwok's server as it would a kubelet: a
Node's ``ExternalDNS`` address (the type the API server prefers, see ``cluster.py``) is
127.0.0.1 and its kubelet port is kwok's (``--node-port``), over TLS with the API server's own
serving certificate (kube-apiserver does not check a kubelet's certificate without
``--kubelet-certificate-authority``). Traffic stays on loopback.
"""

from __future__ import annotations

from pathlib import Path

import yaml

LINES = (
    "kubenova dev cluster: no container runs here; kwok serves this log for every Pod.",
    "[    0.000000] Linux version 6.1.0-kwok (simulated console)",
    "[    0.512000] cloud-init: datasource /var/lib/kubenova/meta_data.json",
    "login: ",
)
"""The simulated log, one entry per line."""
STAMP = "2026-01-01T00:00:00.000000000Z"
LOOPBACK = "127.0.0.1"


def write(root: Path) -> Path:
    """The kwok config serving :data:`LINES` as every container's log; its path."""
    log = root / "pod-console.log"
    log.write_text("".join(f"{STAMP} stdout F {line}\n" for line in LINES))
    config = root / "kwok-logs.yaml"
    rule = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterLogs",
        "metadata": {"name": "every-pod"},
        "spec": {"selector": {}, "logs": [{"logsFile": str(log), "follow": False}]},
    }
    config.write_text(yaml.safe_dump(rule))
    return config
