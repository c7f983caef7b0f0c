"""Whether a server's disks allow what is asked of them, pure, with Nova's messages: a resize
that would shrink a disk (:func:`resize_problem`); a move its disks cannot follow
(:func:`cannot_follow`) and, for an offloaded server, the one host they can reach
(:func:`pinned_host`). Called by the planner (:mod:`.plan`, :mod:`.moves`).

A claim cannot follow a server to another host when it is ReadWriteOnce (or ReadWriteOncePod)
on a storage class that ties a volume to one node: a node-local provisioner, or
``volumeBindingMode: WaitForFirstConsumer`` (the volume is made where it was first used, and
Kubernetes records that node on the claim as ``volume.kubernetes.io/selected-node``). A
ReadWriteMany claim is reachable from any node. The root disk is checked as it was before
(:func:`kubenova.images.disk_stays`, its class recorded at build), the attached volumes and the
boot volume by their claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova import images
from kubenova.nova.actions import ActionRefused
from kubenova.servers import volumes
from kubenova.servers.view import Facts, Server

SELECTED_NODE = "volume.kubernetes.io/selected-node"
"""The annotation the scheduler puts on a WaitForFirstConsumer claim: the node it is bound to."""


def resize_problem(status: Mapping[str, Any], new: Mapping[str, Any]) -> ActionRefused | None:
    """A kubevirt server with a persistent root disk cannot resize it down: Nova's API refuses a
    flavor with no disk (CannotResizeDisk), and its libvirt driver fails a smaller root or
    ephemeral disk (``migrate_disk_and_power_off``: ResizeError, rolled back), which kubenova
    refuses before it starts. A volume, a containerDisk or a Pod has no disk the flavor sizes."""
    if status.get("backend") != "kubevirt" or not (status.get("imageSource") or {}).get("rootDisk"):
        return None
    old: Mapping[str, Any] = status.get("flavor") or {}
    old_disk, new_disk = int(old.get("disk") or 0), int(new.get("disk") or 0)
    if old_disk and not new_disk:
        return ActionRefused("Resize to zero disk flavor is not allowed.", 400)
    if new_disk < old_disk or int(new.get("ephemeral") or 0) < int(old.get("ephemeral") or 0):
        return ActionRefused("Resize error: Unable to resize disk down.", 400)
    return None


def _claims(server: Server) -> list[str]:
    """The claims the server's workload carries: its boot volume and its attachments."""
    out = [a["id"] for a in volumes.attachments(server.status) if a.get("state") != "detaching"]
    boot = (server.spec.get("bootVolume") or {}).get("claimName")
    return ([boot] if boot and boot not in out else []) + out


def _pinned(claim: Mapping[str, Any] | None, storage_class: Mapping[str, Any] | None) -> str | None:
    """Why a claim is tied to its node, or None."""
    if claim is None or storage_class is None or "ReadWriteMany" in (claim.get("accessModes") or []):
        return None
    name, provisioner = storage_class.get("name", ""), storage_class.get("provisioner", "")
    if provisioner in images.LOCAL_PROVISIONERS:
        return f"on storage class {name}, whose provisioner {provisioner} makes node-local volumes"
    if storage_class.get("volumeBindingMode") == "WaitForFirstConsumer":
        return f"on storage class {name}, which binds each volume to the node that first used it (WaitForFirstConsumer)"
    return None


def cannot_follow(server: Server, facts: Facts) -> str | None:
    """Why the server's disks cannot follow it to another host (the first that cannot), or None."""
    source = server.status.get("imageSource")
    if source and (why := images.disk_stays(source, facts.storage_class(source.get("storageClass")))):
        return why
    for name in _claims(server):
        claim = facts.claim(server.namespace, name)
        why = _pinned(claim, facts.storage_class((claim or {}).get("storageClassName")))
        if why:
            return f"Volume {name} is a ReadWriteOnce claim {why}: it cannot follow the server to another host."
    return None


def pinned_host(server: Server, facts: Facts) -> str | None:
    """The node the server's node-bound claims live on, as a WaitForFirstConsumer claim records
    it (the root disk's claim is its DataVolume's), or None if none records one."""
    names = _claims(server)
    if disk := (server.status.get("imageSource") or {}).get("rootDisk"):
        names.insert(0, str(disk))
    for name in names:
        node = (facts.claim(server.namespace, name) or {}).get("selectedNode")
        if node:
            return str(node)
    return None
