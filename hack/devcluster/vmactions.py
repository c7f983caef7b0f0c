"""What the fake virt-api's subresources do to a VirtualMachine, as pure functions over its body:
pause, unpause and softreboot as a patch of its status (:func:`status_patch`), addvolume and
removevolume as a JSON patch of its spec (:func:`volume_patch`), and :class:`Refused`, the
Kubernetes error virt-api would answer instead. No I/O here; :mod:`hack.devcluster.virtapi`
serves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_UNPAUSED_GATE = "kubevirt.io/virtual-machine-unpaused"


# --- what each action does to a VirtualMachine's status -------------------------------------


class Refused(Exception):
    """An answer other than 200, as virt-api gives it: a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
            **({"details": details} if details else {}),
        }


def _conflict(name: str, why: str) -> Refused:
    return Refused(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "{name}": {why}',
        {"name": name, "group": "kubevirt.io", "kind": "virtualmachineinstance"},
    )


def status_patch(vm: Mapping[str, Any], action: str, *, now: str) -> dict[str, Any] | None:
    """The VM status after ``action`` (None if it changes nothing), or :class:`Refused`."""
    name = vm["metadata"]["name"]
    status = vm.get("status") or {}
    printable = status.get("printableStatus")
    paused = printable == "Paused" or any(
        c.get("type") == "Paused" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    # Ready and Paused are rewritten below; the rest stay. (A merge patch replaces a whole list.)
    kept = [c for c in status.get("conditions") or [] if c.get("type") not in ("Ready", "Paused")]
    if printable not in ("Running", "Paused"):
        raise _conflict(name, "VMI is not running")
    if action == "pause":
        if paused:
            raise _conflict(name, "VMI is already paused")
        # A paused guest fails its launcher Pod's readiness gate, so KubeVirt shows it not Ready,
        # in the kubelet's words.
        not_ready = {
            "type": "Ready",
            "status": "False",
            "reason": "ReadinessGatesNotReady",
            "message": f'the status of pod readiness gate "{_UNPAUSED_GATE}" is not "True", but False',
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }
        pause = {
            "type": "Paused",
            "status": "True",
            "reason": "PausedByUser",
            "message": "VMI was paused by user",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }
        return {"printableStatus": "Paused", "ready": False, "conditions": [*kept, not_ready, pause]}
    if action == "unpause":
        if not paused:
            raise _conflict(name, "VMI is not paused")
        ready = {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        return {"printableStatus": "Running", "ready": True, "conditions": [*kept, ready]}
    if action == "softreboot":
        if paused:
            raise _conflict(name, "VMI is paused")
        return None  # the guest reboots inside the same instance: nothing a status shows
    raise Refused(404, "NotFound", f"the server could not find the requested resource ({action})")


# --- what addvolume and removevolume do to a VirtualMachine's spec ---------------------------


def _bad_request(message: str) -> Refused:
    return Refused(400, "BadRequest", message)


def _vm_conflict(name: str, why: str) -> Refused:
    return Refused(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on virtualmachine.kubevirt.io "{name}": {why}',
        {"name": name, "group": "kubevirt.io", "kind": "virtualmachine"},
    )


def _source_claim(volume: Mapping[str, Any]) -> str | None:
    source = volume.get("persistentVolumeClaim") or volume.get("dataVolume") or {}
    claim = source.get("claimName") or source.get("name")
    return str(claim) if claim else None


def volume_patch(vm: Mapping[str, Any], action: str, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch ``action`` makes of the VM's spec, or :class:`Refused` as virt-api answers."""
    name = vm["metadata"]["name"]
    spec = vm.get("spec", {}).get("template", {}).get("spec", {})
    volumes: list[dict[str, Any]] = list(spec.get("volumes") or [])
    disks: list[dict[str, Any]] = list(spec.get("domain", {}).get("devices", {}).get("disks") or [])
    kind = "AddVolumeOptions" if action == "addvolume" else "RemoveVolumeOptions"
    vol_name = options.get("name")
    if not vol_name:
        raise _bad_request(f"{kind} requires name to be set")
    if action == "addvolume":
        if not options.get("disk"):
            raise _bad_request("AddVolumeOptions requires disk to not be nil")
        source = options.get("volumeSource")
        if not source:
            raise _bad_request("AddVolumeOptions requires VolumeSource to not be nil")
        claim = _source_claim(source)
        for v in volumes:
            if v.get("name") == vol_name:
                raise _vm_conflict(
                    name, f"Unable to add volume [{vol_name}] because volume with that name already exists"
                )
            if claim and _source_claim(v) == claim:
                raise _vm_conflict(name, f"Unable to add volume source [{claim}] because it already exists")
        hotplug = {k: {**v, "hotpluggable": True} for k, v in source.items()}
        new_volumes = [*volumes, {"name": vol_name, **hotplug}]
        new_disks = [*disks, {**options["disk"], "name": vol_name}]
    else:
        found = next((v for v in volumes if vol_name in (v.get("name"), _source_claim(v))), None)
        if found is None:
            raise _vm_conflict(name, f"Unable to remove volume [{vol_name}] because it does not exist")
        source = found.get("persistentVolumeClaim") or found.get("dataVolume") or {}
        if not source.get("hotpluggable"):
            raise _vm_conflict(name, f"Unable to remove volume [{found['name']}] because it is not hotpluggable")
        new_volumes = [v for v in volumes if v is not found]
        new_disks = [d for d in disks if d.get("name") != found["name"]]
    base = "/spec/template/spec"
    return [
        {"op": "test", "path": f"{base}/volumes", "value": volumes},
        {"op": "test", "path": f"{base}/domain/devices/disks", "value": disks},
        {"op": "replace", "path": f"{base}/volumes", "value": new_volumes},
        {"op": "replace", "path": f"{base}/domain/devices/disks", "value": new_disks},
    ]
