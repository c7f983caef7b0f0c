"""What the simulated virt-controller makes of a VirtualMachine and its migrations, as pure
functions over their bodies: the VirtualMachineInstance a running VM has (:func:`instance`,
:func:`instance_status`), its virt-launcher Pod and disruption budget, and the next phase of a
VirtualMachineInstanceMigration (:func:`next_migration_step`). No I/O here;
:mod:`hack.devcluster.virtcontroller` watches the objects and writes what these return.

Addresses are deterministic from the VM's uid (so a restarted or moved VM keeps them, as a
kubenova server keeps its fixed IP), from ranges that are never routed: IPv4 from 198.18.0.0/15
(RFC 2544, benchmarking) and IPv6 from 2001:db8::/32 (RFC 3849, documentation); the MAC is a
locally administered one. Nothing ever dials them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

HOSTNAME = "kubernetes.io/hostname"
RUNNING_STRATEGIES = ("Always", "RerunOnFailure")
FAIL_LABEL = "kubenova.dev/fail-live-migration"
"""A Node carrying this label (value "true") fails every live migration to it: the simulation's
deterministic trigger for a failed VirtualMachineInstanceMigration."""
HOLD_LABEL = "kubenova.dev/hold-live-migration"
"""A Node carrying this label (value "true") holds every live migration to it in Running until the
label goes: a test's way to look at a migration in flight, and to abort it."""
CREATED_BY = "kubevirt.io/created-by"
"""virt-launcher Pods carry their VMI's uid under this label (as KubeVirt's do)."""
MIGRATION_FINALIZER = "kubevirt.io/migrationJobFinalize"
PHASES = ("Pending", "Scheduling", "Running", "Succeeded")
REVISION = "compute.kubenova.io/revision"


def should_run(vm: Mapping[str, Any]) -> bool:
    """Whether virt-controller keeps an instance of ``vm`` (its run strategy asks for one)."""
    if vm["metadata"].get("deletionTimestamp"):
        return False
    spec = vm.get("spec") or {}
    if "runStrategy" in spec:
        return spec["runStrategy"] in RUNNING_STRATEGIES
    return bool(spec.get("running"))


def pinned_host(vm: Mapping[str, Any]) -> str | None:
    """The node a VM's template selects by hostname (kubenova pins every VM so)."""
    selector = ((vm.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    host = selector.get(HOSTNAME)
    return str(host) if host else None


def _digest(uid: str) -> bytes:
    return hashlib.sha256(uid.encode()).digest()


def interfaces(vm: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The instance's ``status.interfaces``: one per network of the template, addresses from the
    VM's uid (and the interface's position, so a second network gets other addresses)."""
    uid = vm["metadata"]["uid"]
    nets = ((vm.get("spec") or {}).get("template") or {}).get("spec", {}).get("networks") or [{"name": "default"}]
    out = []
    for i, net in enumerate(nets):
        d = _digest(f"{uid}/{i}")
        v4 = f"198.{18 + (d[0] & 1)}.{d[1]}.{max(d[2], 1) if d[2] != 255 else 254}"
        v6 = f"2001:db8:{int.from_bytes(d[3:5]):x}:{int.from_bytes(d[5:7]):x}::{int.from_bytes(d[7:9]) or 1:x}"
        mac = ":".join(f"{b:02x}" for b in (0x02, *d[9:14]))
        out.append(
            {
                "name": net.get("name", "default"),
                "interfaceName": f"eth{i}",
                "ipAddress": v4,
                "ipAddresses": [v4, v6],
                "mac": mac,
                "infoSource": "domain, guest-agent",
            }
        )
    return out


def instance(vm: Mapping[str, Any]) -> dict[str, Any]:
    """The VirtualMachineInstance virt-controller makes for ``vm``: its template's metadata and
    spec, owned by the VM (so it goes with it)."""
    meta, template = vm["metadata"], (vm.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            # virt-controller adds the VM's name (its launcher Pods carry it too).
            "labels": {**(tmeta.get("labels") or {}), "vm.kubevirt.io/name": meta["name"]},
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "kubevirt.io/v1",
                    "kind": "VirtualMachine",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": dict(template.get("spec") or {}),
    }


def instance_status(vm: Mapping[str, Any], node: str, *, now: str) -> dict[str, Any]:
    """A running instance's status on ``node``."""
    return {
        "phase": "Running",
        "nodeName": node,
        "interfaces": interfaces(vm),
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "LiveMigratable", "status": "True", "lastTransitionTime": now},
        ],
    }


def stale(vm: Mapping[str, Any], vmi: Mapping[str, Any]) -> bool:
    """Whether ``vmi`` is of an earlier boot than ``vm``'s template (a restart KubeVirt would
    have made it again for: the VM was halted and started in between)."""
    tmeta = ((vm.get("spec") or {}).get("template") or {}).get("metadata") or {}
    want = (tmeta.get("annotations") or {}).get(REVISION)
    have = (vmi["metadata"].get("annotations") or {}).get(REVISION)
    return want != have


def live_update(vm: Mapping[str, Any], vmi: Mapping[str, Any]) -> dict[str, Any] | None:
    """KubeVirt's LiveUpdate rollout: a VM's new node selector (or affinity) reaches its running
    instance without a restart. The JSON merge patch of the instance's spec, or None."""
    tspec = ((vm.get("spec") or {}).get("template") or {}).get("spec") or {}
    spec = vmi.get("spec") or {}
    patch = {k: tspec.get(k) for k in ("nodeSelector", "affinity") if tspec.get(k) != spec.get(k)}
    return {"spec": patch} if patch else None


# --- launcher Pods ------------------------------------------------------------------------


def launcher_pod(vmi: Mapping[str, Any], node: str, suffix: str) -> dict[str, Any]:
    """The virt-launcher Pod of an instance on ``node``, owned by the instance. As virt-controller
    makes it: the instance's labels (a NetworkPolicy selects the Pod by them) with KubeVirt's own,
    and beside ``compute`` the ``guest-console-log`` container that streams the serial console's
    log (what ``os-getConsoleOutput`` reads for a VM)."""
    meta = vmi["metadata"]
    labels = {**(meta.get("labels") or {}), "kubevirt.io": "virt-launcher", CREATED_BY: meta["uid"]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"virt-launcher-{meta['name']}-{suffix}"[:63].rstrip("-"),
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "kubevirt.io/v1",
                    "kind": "VirtualMachineInstance",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "compute", "image": "quay.io/kubevirt/virt-launcher:simulated"},
                {"name": "guest-console-log", "image": "quay.io/kubevirt/virt-launcher:simulated"},
            ],
            "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }


def disruption_budget(vmi: Mapping[str, Any]) -> dict[str, Any]:
    """The PodDisruptionBudget virt-controller keeps for an instance whose eviction strategy is
    LiveMigrate or External: its launcher Pod cannot simply be evicted (a drain must move it)."""
    meta = vmi["metadata"]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": f"kubevirt-disruption-budget-{meta['name']}"[:63].rstrip("-"),
            "namespace": meta["namespace"],
            "ownerReferences": instance_owner(vmi),
        },
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {CREATED_BY: meta["uid"]}}},
    }


def instance_owner(vmi: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = vmi["metadata"]
    return [
        {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachineInstance",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def protected(vmi: Mapping[str, Any]) -> bool:
    return (vmi.get("spec") or {}).get("evictionStrategy") in ("LiveMigrate", "External")


def evacuation(vmi: Mapping[str, Any], nodes: Sequence[Node]) -> dict[str, Any] | None:
    """The status patch virt-api's eviction webhook makes when a drain evicts the launcher Pod
    of an instance with evictionStrategy External (``evacuationNodeName``), or None. The
    simulation has no webhook: a cordoned node stands for the drain (``kubectl drain`` cordons
    before it evicts)."""
    status = vmi.get("status") or {}
    node = status.get("nodeName")
    if (vmi.get("spec") or {}).get("evictionStrategy") != "External" or status.get("evacuationNodeName"):
        return None
    if any(n.name == node and not n.schedulable for n in nodes):
        return {"evacuationNodeName": node}
    return None


# --- migrations ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str]
    schedulable: bool


@dataclasses.dataclass(frozen=True)
class Step:
    """What to write for a migration's next phase."""

    migration_status: dict[str, Any]
    vmi_status: dict[str, Any] | None = None
    """A merge patch of the instance's status, if it changes."""
    moved_to: str | None = None
    """The node the instance runs on now (its launcher Pod moves), on success."""


def target_node(vmi: Mapping[str, Any], migration: Mapping[str, Any], nodes: Sequence[Node]) -> str | None:
    """The node a migration's target Pod can go to: the instance's node selector with the
    migration's addedNodeSelector (which only restricts: on a key collision the instance's
    value stands), schedulable, not the source."""
    selector = dict((migration.get("spec") or {}).get("addedNodeSelector") or {})
    selector |= (vmi.get("spec") or {}).get("nodeSelector") or {}
    source = (vmi.get("status") or {}).get("nodeName")
    for node in sorted(nodes, key=lambda n: n.name):
        labels = {**node.labels, HOSTNAME: node.labels.get(HOSTNAME, node.name)}
        if node.name != source and node.schedulable and all(labels.get(k) == v for k, v in selector.items()):
            return node.name
    return None


def _phase(status: Mapping[str, Any], phase: str, now: str) -> dict[str, Any]:
    stamps = list(status.get("phaseTransitionTimestamps") or [])
    stamps.append({"phase": phase, "phaseTransitionTimestamp": now})
    return {**status, "phase": phase, "phaseTransitionTimestamps": stamps}


def next_migration_step(
    migration: Mapping[str, Any], vmi: Mapping[str, Any] | None, nodes: Sequence[Node], *, now: str
) -> Step | None:
    """The next phase of a migration (None when it has ended or is held): Pending, Scheduling, Running,
    then Succeeded, or Failed (no instance, no node fits, the target carries :data:`FAIL_LABEL`,
    or it was deleted (aborted) before it ended)."""
    status = dict(migration.get("status") or {})
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return None
    uid = migration["metadata"]["uid"]
    state = dict(((vmi or {}).get("status") or {}).get("migrationState") or {})
    if migration["metadata"].get("deletionTimestamp"):
        vmi_status = None
        if state.get("migrationUid") == uid:
            state |= {"abortRequested": True, "abortStatus": "Succeeded", "failed": True, "endTimestamp": now}
            vmi_status = {"migrationState": state}
        return Step(_phase(status, "Failed", now), vmi_status)
    if phase is None:
        return Step(_phase(status, "Pending", now))
    if vmi is None or (vmi.get("status") or {}).get("phase") != "Running":
        return Step(_failed(status, "The VMI is not running", now))
    if phase == "Pending":
        target = target_node(vmi, migration, nodes)
        if target is None:
            return Step(_failed(status, "no node matches the migration's target node selector", now))
        source = vmi["status"]["nodeName"]
        state = {
            "migrationUid": uid,
            "sourceNode": source,
            "targetNode": target,
            "startTimestamp": now,
            "mode": "PreCopy",
        }
        return Step(_phase(status, "Scheduling", now) | {"migrationState": state}, {"migrationState": state})
    state = dict(status.get("migrationState") or state)
    if phase == "Scheduling":
        return Step(_phase(status, "Running", now))
    target = str(state.get("targetNode"))
    node = next((n for n in nodes if n.name == target), None)
    if node is not None and node.labels.get(HOLD_LABEL) == "true":
        return None  # held in Running; the resync finds it again once the label goes
    if node is None or node.labels.get(FAIL_LABEL) == "true":
        why = f"simulated failure: node {target} carries {FAIL_LABEL}=true" if node else f"node {target} is gone"
        state |= {"failed": True, "failureReason": why, "endTimestamp": now}
        return Step(_failed(status, why, now) | {"migrationState": state}, {"migrationState": state})
    state |= {"completed": True, "endTimestamp": now}
    moved = {"nodeName": target, "migrationState": state, "evacuationNodeName": None}
    return Step(
        _phase(status, "Succeeded", now) | {"migrationState": state},
        moved,
        target,
    )


def _failed(status: Mapping[str, Any], why: str, now: str) -> dict[str, Any]:
    conds = [
        {"type": "Failed", "status": "True", "reason": "MigrationFailed", "message": why, "lastTransitionTime": now}
    ]
    return _phase(status, "Failed", now) | {"conditions": conds}
