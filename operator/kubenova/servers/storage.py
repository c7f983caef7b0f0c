"""Whether a server's disks allow what is asked of them, pure, with Nova's messages: a resize
that would shrink a disk (:func:`resize_problem`). Called by the planner (:mod:`.plan`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova.nova.actions import ActionRefused


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
