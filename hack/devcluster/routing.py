"""Routing a Service of the dev cluster to a process on this machine.

The dev cluster runs no kube-proxy, so a Service's cluster IP leads nowhere. kube-apiserver runs
with ``--enable-aggregator-routing=true``, which makes it resolve a Service to one of its
EndpointSlices' ready endpoints and dial that address directly, both for an APIService and for
an admission webhook's ``clientConfig.service`` (kube-apiserver builds one service resolver, the
endpoint one when routing is on, and hands it to the aggregator and to the webhook clients). It
still checks the server's certificate against ``<service>.<namespace>.svc``.

So a process on this machine is reached through a Service by an EndpointSlice written by hand
that names this machine's address. The fake virt-api is published that way
(:mod:`hack.devcluster.virtapi`), and so is the operator's webhook in the chart's test.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Mapping
from typing import Any

_PROBE = "203.0.113.1"  # TEST-NET-3: never contacted, only used to ask the kernel for a route
MANAGED_BY = "devcluster.kubenova.io"
"""The slices' ``endpointslice.kubernetes.io/managed-by``: an EndpointSlice controller (where
one runs) leaves slices another manager owns alone, so none fights over these."""


def host_ipv4() -> str:
    """This machine's non-loopback IPv4 address, where kube-apiserver can reach a local process.

    An EndpointSlice may not name a loopback address, so a process is published at the address
    of the interface the default route leaves by (what connect() on a UDP socket picks; nothing
    is sent). Without a default route, the first global address ``ip`` lists."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((_PROBE, 9))
            addr = str(s.getsockname()[0])
            if not addr.startswith("127."):
                return addr
        except OSError:
            pass
    try:
        out = subprocess.run(
            ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True, check=False
        )
    except OSError:
        out = None
    for match in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+)/", out.stdout if out else ""):
        return match.group(1)
    raise RuntimeError(
        "a local process published to the dev cluster needs a non-loopback IPv4 address for its "
        "EndpointSlice (kube-apiserver refuses 127.0.0.0/8 there), and this machine has none"
    )


def endpoint_slice(
    namespace: str,
    service: str,
    address: str,
    port: int,
    *,
    port_name: str,
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An EndpointSlice that routes ``service``'s port ``port_name`` to ``address:port``.

    kube-apiserver matches a slice's port to the Service's by name, so ``port_name`` must be the
    Service port's name; the ``kubernetes.io/service-name`` label ties the slice to its Service."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or service,
            "namespace": namespace,
            "labels": {
                **(labels or {}),
                "kubernetes.io/service-name": service,
                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
    }
