"""Manifests for simulated compute nodes, shaped like real ones.

Called by :meth:`hack.devcluster.cluster.Cluster.add_nodes`. Each Node carries capacity
(cpu, memory, ephemeral storage, pods), a zone label, the label that marks it as a kubenova
compute host, its own InternalIP, and the annotation that hands it to kwok.
"""

from __future__ import annotations

from typing import Any

from kubenova import labels

# A typical 2U compute host: 32 cores, 128 GiB, 1 TiB of local disk.
DEFAULT_CPU = 32
DEFAULT_MEMORY_GIB = 128
DEFAULT_DISK_GIB = 1024


def compute_nodes(
    count: int,
    *,
    prefix: str = "compute",
    first: int = 0,
    cpu: int = DEFAULT_CPU,
    memory_gib: int = DEFAULT_MEMORY_GIB,
    disk_gib: int = DEFAULT_DISK_GIB,
    zones: tuple[str, ...] = ("zone-a", "zone-b"),
) -> list[dict[str, Any]]:
    return [
        compute_node(
            f"{prefix}-{i}",
            index=i,
            cpu=cpu,
            memory_gib=memory_gib,
            disk_gib=disk_gib,
            zone=zones[i % len(zones)] if zones else None,
        )
        for i in range(first, first + count)
    ]


def compute_node(
    name: str,
    *,
    index: int,
    cpu: int = DEFAULT_CPU,
    memory_gib: int = DEFAULT_MEMORY_GIB,
    disk_gib: int = DEFAULT_DISK_GIB,
    zone: str | None = None,
) -> dict[str, Any]:
    from hack.devcluster.cluster import KWOK_MANAGED  # cluster imports this module

    resources = {
        "cpu": str(cpu),
        "memory": f"{memory_gib}Gi",
        "ephemeral-storage": f"{disk_gib}Gi",
        "pods": "250",
    }
    node_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        labels.COMPUTE_HOST: "true",
    }
    if zone:
        node_labels["topology.kubernetes.io/zone"] = zone
    # 10.240.0.0/16: one address per node, distinct from kwok's pod range.
    ip = f"10.240.{index // 250}.{index % 250 + 1}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": node_labels,
            "annotations": {KWOK_MANAGED[0]: KWOK_MANAGED[1]},
        },
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            # ExternalDNS, the only type kube-apiserver dials here: kwok's server (podlogs.py).
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
                {"type": "ExternalDNS", "address": "127.0.0.1"},
            ],
        },
    }
