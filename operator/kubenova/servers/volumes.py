"""Volumes: a PersistentVolumeClaim attached to a Server, as Nova attaches a Cinder volume
(os-volume_attachments). Pure rules and status fields, called by the planner (:mod:`.plan`,
:mod:`.tasks`).

``spec.volumes`` declares the attachments; :func:`next_change` says which one to make next
(detaches first, then attaches, in the spec's order), and :func:`begin` checks Nova's rules
(the vm_state is checked by :func:`kubenova.nova.actions.check` before) and gives the status
fields of its first write:

* a claim that does not exist is Nova's 404 ``Volume <id> could not be found.``, said once as
  the server's fault; the server is reconciled again when the claim appears (no stuck task);
* a claim attached to another server is refused with Cinder's 400 (``... status must be
  available or downloading to reserve, but the current status is in-use.``) unless it is
  ReadWriteMany, Nova's multiattach;
* the root volume (``spec.bootVolume``) is never in ``spec.volumes`` and never detached (the CRD
  refuses both, with Nova's ``Cannot detach a root device volume``).

How each backend takes the change:

* kubevirt, with a VirtualMachine: a task (``attaching``/``detaching``) that ends when the VM's
  spec carries the volume (hot-plugged into a running VM through KubeVirt's ``addvolume`` and
  ``removevolume``, written into a halted VM's spec);
* kubevirt without a VirtualMachine (shelved_offloaded): recorded at once, rendered at unshelve;
* container: recorded at once; a running Pod's volumes cannot change, so the attachment is
  ``pendingRestart`` (an Event and the ``VolumesPending`` condition say so) until the Pod is next
  made (start, reboot, rebuild, resize, migrate). The operator never restarts a Pod for a volume.

"Attached" needs only that the claim exists: it need not be Bound (a claim of a
WaitForFirstConsumer class binds when the workload uses it, and the dev cluster binds none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kubenova import conditions
from kubenova.nova.actions import Action, ActionRefused
from kubenova.nova.states import VmState
from kubenova.servers.bodies import AttachmentBody, Patch, VolumeSpec

ACTIONS = frozenset({Action.ATTACH_VOLUME, Action.DETACH_VOLUME})
PENDING = "VolumesPending"
"""The condition that says a volume change waits for the container's next start."""
MULTIATTACH = "ReadWriteMany"
_LETTERS = "bcdefghijklmnopqrstuvwxyz"


def declared(spec: Mapping[str, Any]) -> list[VolumeSpec]:
    vols: list[VolumeSpec] = list(spec.get("volumes") or [])
    return vols


def attachments(status: Mapping[str, Any]) -> list[AttachmentBody]:
    """The server's attachments, the root volume's included."""
    found: list[AttachmentBody] = list(status.get("volumeAttachments") or [])
    return found


def next_change(spec: Mapping[str, Any], status: Mapping[str, Any]) -> tuple[Action, str] | None:
    """The next attachment to make or undo: (detach_volume, claim) for an attached claim the spec
    no longer lists, else (attach_volume, claim) for a listed claim the server lacks."""
    wanted = [v["claimName"] for v in declared(spec)]
    boot = (spec.get("bootVolume") or {}).get("claimName")
    have = {a["id"]: a for a in attachments(status) if not a.get("root") and a["id"] != boot}
    for claim, entry in have.items():
        if claim not in wanted and entry.get("state", "attached") != "detaching":
            return Action.DETACH_VOLUME, claim
    for claim in wanted:
        if claim not in have or have[claim].get("state") == "detaching":
            return Action.ATTACH_VOLUME, claim
    return None


def on_workload(status: Mapping[str, Any]) -> tuple[str, ...]:
    """The claims the workload must carry (besides a boot volume): every attachment but those
    detaching (a task removing it, or a container's Pod to be made without it)."""
    return tuple(
        a["id"] for a in attachments(status) if not a.get("root") and a.get("state", "attached") != "detaching"
    )


def holders(claim_holders: Sequence[str], server: str) -> list[str]:
    return sorted({h for h in claim_holders if h != server})


def check_attach(claim: str, pvc: Mapping[str, Any] | None, others: Sequence[str], *, namespace: str) -> None:
    """Nova's (and Cinder's) refusals for attaching ``claim``; ``others``: servers holding it."""
    if pvc is None:
        raise ActionRefused(
            f"Volume {claim} could not be found. (No PersistentVolumeClaim {claim} in {namespace}; the server "
            "attaches it once it exists.)",
            code=404,
        )
    if others and MULTIATTACH not in (pvc.get("accessModes") or ()):
        raise ActionRefused(
            f"Invalid volume: Volume {claim} status must be available or downloading to reserve, but the current "
            f"status is in-use. (It is attached to {', '.join(others)}; only a ReadWriteMany claim, Nova's "
            "multiattach, can be attached to more than one server.)",
            code=400,
        )


def device_for(entries: Sequence[AttachmentBody], requested: str | None) -> str:
    """The device name asked for, else the next free /dev/vdX after the root disk's vda."""
    if requested:
        return requested
    used = {a.get("device") for a in entries}
    for letter in _LETTERS:
        if f"/dev/vd{letter}" not in used:
            return f"/dev/vd{letter}"
    return "/dev/vdzz"


def immediate(backend: str | None, vm_state: str, has_workload: bool) -> bool:
    """Whether the change is only recorded (no workload to change now, or a Pod that cannot change)."""
    return backend != "kubevirt" or not has_workload or vm_state == VmState.SHELVED_OFFLOADED


def pod_running(backend: str | None, vm_state: str) -> bool:
    """Whether a container server has a Pod now (a stopped or shelved one has none)."""
    return backend != "kubevirt" and vm_state in (VmState.ACTIVE, VmState.RESIZED)


def begin(
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    action: Action,
    claim: str,
    *,
    server_id: str,
    task: bool,
    pending: bool,
) -> list[AttachmentBody]:
    """The attachments after the change starts: a task in flight shows it attaching or
    detaching; one made at once is attached (or gone); ``pending``: a running Pod's change,
    recorded and waiting for its next start."""
    entries = [dict(a) for a in attachments(status)]
    out: list[AttachmentBody] = []
    if action is Action.DETACH_VOLUME:
        for e in entries:
            if e["id"] != claim:
                out.append(e)  # type: ignore[arg-type]
            elif task:
                out.append(e | {"state": "detaching"})  # type: ignore[arg-type]
            elif pending and not e.get("pendingRestart"):  # on the running Pod: it goes at its next start
                out.append(e | {"state": "detaching", "pendingRestart": True})  # type: ignore[arg-type]
        return out
    existing = next((e for e in entries if e["id"] == claim), None)
    if existing is not None:  # a detach waiting for the Pod's restart, undone
        return [(e | {"state": "attached", "pendingRestart": None}) if e["id"] == claim else e for e in entries]  # type: ignore[misc]
    asked = next((v for v in declared(spec) if v["claimName"] == claim), VolumeSpec(claimName=claim))
    entry: AttachmentBody = {
        "id": claim,
        "serverId": server_id,
        "device": device_for(entries, asked.get("device")),  # type: ignore[arg-type]
        "deleteOnTermination": bool(asked.get("deleteOnTermination", False)),
        "state": "attaching" if task else "attached",
    }
    if asked.get("tag"):
        entry["tag"] = asked["tag"]
    if pending:
        entry["pendingRestart"] = True
    return [*entries, entry]  # type: ignore[list-item]


def finish(status: Mapping[str, Any], action: Action) -> list[AttachmentBody]:
    """The attachments once KubeVirt carries the change: attaching → attached, detaching gone."""
    out: list[AttachmentBody] = []
    for a in attachments(status):
        state = a.get("state", "attached")
        if state == "detaching" and not a.get("pendingRestart"):
            continue
        out.append(cast(AttachmentBody, {**a, "state": "attached"}) if state == "attaching" else a)
    return out


def settle_pending(status: Mapping[str, Any]) -> list[AttachmentBody] | None:
    """A container's Pod was made again (or deleted): its pending changes are now true. None if
    there were none."""
    entries = attachments(status)
    if not any(a.get("pendingRestart") for a in entries):
        return None
    out: list[AttachmentBody] = []
    for a in entries:
        if a.get("pendingRestart") and a.get("state") == "detaching":
            continue
        out.append(cast(AttachmentBody, {k: v for k, v in a.items() if k != "pendingRestart"}))
    return out


def fields(status: Mapping[str, Any], entries: list[AttachmentBody], *, generation: int | None, now: str) -> Patch:
    """The status fields for ``entries``: the list, Nova's volumes_attached, and VolumesPending."""
    pending = [a["id"] for a in entries if a.get("pendingRestart")]
    patch: Patch = {
        "volumeAttachments": entries,
        "volumesAttached": [
            {"id": a["id"], "deleteOnTermination": bool(a.get("deleteOnTermination", False))}
            for a in entries
            if a.get("state", "attached") == "attached"
            and not (a.get("pendingRestart") and a.get("state") == "detaching")
        ],
    }
    if pending or any(c.get("type") == PENDING for c in status.get("conditions") or []):
        message = (
            f"The container backend changes a Pod's volumes only when it is made again (start, reboot, "
            f"rebuild, resize, migrate); waiting: {', '.join(pending)}."
            if pending
            else "Every volume change is on the Pod."
        )
        patch["conditions"] = conditions.set_condition(
            status.get("conditions") or [],
            type=PENDING,
            status=bool(pending),
            reason="PendingRestart" if pending else "Applied",
            message=message,
            generation=generation,
            now=now,
        )
    return patch


def root_entry(claim: str, server_id: str) -> AttachmentBody:
    """The root volume of a boot-from-volume server, as Nova lists it (never detached)."""
    return {
        "id": claim,
        "serverId": server_id,
        "device": "/dev/vda",
        "deleteOnTermination": False,
        "state": "attached",
        "root": True,
    }


def held(spec: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, bool]:
    """The claims a server holds or asks for → whether it holds it (for the index of claim users)."""
    out: dict[str, bool] = {v["claimName"]: False for v in declared(spec)}
    boot = (spec.get("bootVolume") or {}).get("claimName")
    if boot:
        out[boot] = True
    for a in attachments(status):
        out[a["id"]] = True
    return out


def delete_on_termination(status: Mapping[str, Any]) -> list[str]:
    """Claims to delete with the server (Nova's delete_on_termination)."""
    return [a["id"] for a in attachments(status) if a.get("deleteOnTermination") and not a.get("root")]
