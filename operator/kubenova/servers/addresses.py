"""A KubeVirt server's addresses (Nova's ``addresses``) from its VirtualMachineInstance's
``status.interfaces``, as the Server's status records them (network, addr, version, type fixed,
macAddr). Called by the VMI watch (:mod:`kubenova.handlers.vmis`); pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova.backends import container, kubevirt

NETWORKS = {kubevirt.NETWORK: container.NETWORK}
"""KubeVirt's name of an interface's network → the network's name in Nova's view: the VM's
``default`` network is the pod network, which a container server shows as ``pod`` too."""


def of_instance(vmi: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """The addresses a running instance reports, or None if it reports none (not running, or
    no interface has an address yet): then the server keeps the addresses it had."""
    status = (vmi or {}).get("status") or {}
    if status.get("phase") != "Running":
        return None
    out: list[dict[str, Any]] = []
    for iface in status.get("interfaces") or []:
        ips = iface.get("ipAddresses") or ([iface["ipAddress"]] if iface.get("ipAddress") else [])
        network = str(iface.get("name") or kubevirt.NETWORK)
        for ip in ips:
            entry: dict[str, Any] = {
                "network": NETWORKS.get(network, network),
                "addr": ip,
                "version": 6 if ":" in ip else 4,
                "type": "fixed",
            }
            if iface.get("mac"):
                entry["macAddr"] = iface["mac"]
            out.append(entry)
    return out or None


def node_of(vmi: Mapping[str, Any] | None) -> str | None:
    """The node a running instance is on."""
    node = ((vmi or {}).get("status") or {}).get("nodeName")
    return str(node) if node else None
