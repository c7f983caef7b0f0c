"""The KubeVirt backend: a Server runs as a ``kubevirt.io/v1`` VirtualMachine.

* The flavor sizes the domain inline (``cpu.cores``, ``memory.guest`` and equal memory requests),
  rather than through a VirtualMachineClusterInstancetype: one object to render and no second
  kind to keep in step with Flavors. ``hw:cpu_policy=dedicated`` asks for dedicated CPUs.
* The root disk is a containerDisk (``spec.image``) or the server's boot volume (a PVC).
* ``runStrategy`` carries the power state: Always for a running server, Halted for a stopped or
  shelved one. Pause, unpause, soft reboot and reset are KubeVirt subresource calls.
* Attached volumes (``spec.volumes``) are PersistentVolumeClaims marked ``hotpluggable`` on SCSI
  disks, as KubeVirt's ``addvolume`` writes them: the same render serves a VM made or re-made
  with them and one that got them hot-plugged (see :mod:`kubenova.kube.workloads`).
* The host the scheduler chose is pinned with a ``kubernetes.io/hostname`` node selector.
* The keypair reaches the guest through ``accessCredentials`` propagated by KubeVirt's
  OpenStack-format config drive (``config-2``), which also carries the user data; KubeVirt writes
  that drive's ``meta_data.json`` itself (uuid, hostname, public keys). Nova's full
  ``meta_data.json`` (name, availability zone, metadata) is on a second small disk made with the
  downward API, labelled ``nova-meta``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova.backends.workload import (
    META_DATA_ANNOTATION,
    REVISION_ANNOTATION,
    VOLUME_PREFIX,
    Address,
    Observation,
    PlacedServer,
    meta_data_json,
    volume_name,
)

NAME = "kubevirt"
API_VERSION = "kubevirt.io/v1"
KIND = "VirtualMachine"
PLURAL = "virtualmachines"
KEY_SECRET = True
"""accessCredentials read the public key from a Secret."""
KEEPS_STOPPED = True
"""A stopped server's VirtualMachine stays, halted."""
NETWORK = "default"

UNSUPPORTED = {
    "live_migrate": "kubenova pins a VirtualMachine to its host with a node selector, which a KubeVirt "
    "live migration cannot move; migrate it (cold) instead",
}
"""Nova actions this backend refuses, and why."""


def render(s: PlacedServer, *, access_secret: str | None = None) -> dict[str, Any]:
    """The VirtualMachine for a placed server. ``access_secret`` holds the public key, if any."""
    disks: list[dict[str, Any]] = [{"name": "root", "disk": {"bus": "virtio"}, "bootOrder": 1}]
    volumes: list[dict[str, Any]] = [_root_volume(s)]
    if s.rescue_image:
        # Nova's rescue: boot the rescue image, with the server's own disk attached second.
        disks = [
            {"name": "rescue", "disk": {"bus": "virtio"}, "bootOrder": 1},
            {"name": "root", "disk": {"bus": "virtio"}},
        ]
        volumes.insert(0, {"name": "rescue", "containerDisk": {"image": s.rescue_image}})
    config_drive: dict[str, Any] = {}
    if s.user_data_secret:
        config_drive["secretRef"] = {"name": s.user_data_secret}
    else:
        config_drive["userData"] = "#cloud-config\n{}\n"  # the drive still carries meta_data.json
    disks.append({"name": "config-drive", "disk": {"bus": "virtio"}})
    volumes.append({"name": "config-drive", "cloudInitConfigDrive": config_drive})
    disks.append({"name": "nova-meta", "disk": {"bus": "virtio"}})
    volumes.append(
        {
            "name": "nova-meta",
            "downwardAPI": {
                "volumeLabel": "nova-meta",
                "fields": [
                    {
                        "path": "meta_data.json",
                        "fieldRef": {"fieldPath": f"metadata.annotations['{META_DATA_ANNOTATION}']"},
                    }
                ],
            },
        }
    )
    for claim in s.volumes:
        disk, volume = hotplug_volume(claim)
        disks.append(disk)
        volumes.append(volume)
    cpu: dict[str, Any] = {"cores": s.flavor.vcpus, "sockets": 1, "threads": 1}
    if s.flavor.extra_specs.get("hw:cpu_policy") == "dedicated":
        cpu["dedicatedCpuPlacement"] = True
    template_spec: dict[str, Any] = {
        "hostname": s.guest_hostname,
        "nodeSelector": {"kubernetes.io/hostname": s.host},
        "domain": {
            "cpu": cpu,
            "memory": {"guest": f"{s.flavor.ram}Mi"},
            "resources": {"requests": {"memory": f"{s.flavor.ram}Mi"}},
            "devices": {
                "disks": disks,
                "interfaces": [{"name": NETWORK, "masquerade": {}}],
            },
        },
        "networks": [{"name": NETWORK, "pod": {}}],
        "volumes": volumes,
        "terminationGracePeriodSeconds": 30,
        "evictionStrategy": "LiveMigrate",
    }
    if access_secret:
        template_spec["accessCredentials"] = [
            {
                "sshPublicKey": {
                    "source": {"secret": {"secretName": access_secret}},
                    "propagationMethod": {"configDrive": {}},
                }
            }
        ]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": s.name,
            "namespace": s.namespace,
            "labels": s.labels(),
            "ownerReferences": [s.owner_reference()],
        },
        "spec": {
            "runStrategy": "Always" if s.running else "Halted",
            "template": {
                "metadata": {"labels": s.labels(), "annotations": _template_annotations(s)},
                "spec": template_spec,
            },
        },
    }


def hotplug_volume(claim: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The disk and volume of an attached claim, as KubeVirt's AddVolumeOptions makes them
    (``hotpluggable``; SCSI, the bus every KubeVirt release hot-plugs)."""
    name = volume_name(claim)
    return (
        {"name": name, "disk": {"bus": "scsi"}},
        {"name": name, "persistentVolumeClaim": {"claimName": claim, "hotpluggable": True}},
    )


def attached_claims(vm: Mapping[str, Any]) -> frozenset[str]:
    """The claims a VirtualMachine's spec carries as attached volumes (not its boot volume)."""
    spec = vm.get("spec", {}).get("template", {}).get("spec", {})
    return frozenset(
        v["persistentVolumeClaim"]["claimName"]
        for v in spec.get("volumes") or []
        if v.get("persistentVolumeClaim") and v.get("name", "").startswith(VOLUME_PREFIX)
    )


def _template_annotations(s: PlacedServer) -> dict[str, str]:
    annotations = {META_DATA_ANNOTATION: meta_data_json(s)}
    if s.revision:
        annotations[REVISION_ANNOTATION] = s.revision
    return annotations


def _root_volume(s: PlacedServer) -> dict[str, Any]:
    if s.boot_volume:
        return {"name": "root", "persistentVolumeClaim": {"claimName": s.boot_volume}}
    return {"name": "root", "containerDisk": {"image": s.image}}


# printableStatus → Nova power state. Anything not listed is NOSTATE (building or unknown).
_POWER = {
    "Running": "RUNNING",
    "Paused": "PAUSED",
    "Stopped": "SHUTDOWN",
    "Stopping": "RUNNING",
    "Migrating": "RUNNING",
    "CrashLoopBackOff": "CRASHED",
}
# States that waiting will not fix; ErrorUnschedulable is left out on purpose, as it can show
# briefly while a volume binds (harvester#2221).
_FAILURES = {"ErrImagePull", "ImagePullBackOff", "ErrorPvcNotFound", "DataVolumeError", "CrashLoopBackOff"}


def observe(vm: Mapping[str, Any] | None, vmi: Mapping[str, Any] | None = None) -> Observation:
    """Nova's view of a VirtualMachine (and its instance, when there is one)."""
    if vm is None:
        return Observation(exists=False)
    status = vm.get("status", {})
    printable = status.get("printableStatus", "Stopped")
    power = _POWER.get(printable, "NOSTATE")
    addresses: tuple[Address, ...] = ()
    host = None
    if vmi is not None:
        vmi_status = vmi.get("status", {})
        host = vmi_status.get("nodeName")
        addresses = tuple(
            Address(NETWORK, ip, 6 if ":" in ip else 4, iface.get("mac"))
            for iface in vmi_status.get("interfaces", [])
            for ip in iface.get("ipAddresses", [iface["ipAddress"]] if iface.get("ipAddress") else [])
        )
    template = vm.get("spec", {}).get("template", {}).get("metadata", {})
    return Observation(
        exists=True,
        power=power,  # type: ignore[arg-type]
        revision=(template.get("annotations") or {}).get(REVISION_ANNOTATION),
        ready=bool(status.get("ready")) and printable == "Running",
        host=host,
        addresses=addresses,
        failure=printable if printable in _FAILURES else None,
        volumes=attached_claims(vm),
    )
