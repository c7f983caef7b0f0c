"""The KubeVirt backend: a Server runs as a ``kubevirt.io/v1`` VirtualMachine.

* The flavor sizes the domain inline (``cpu.cores``, ``memory.guest`` and equal memory requests),
  rather than through a VirtualMachineClusterInstancetype: one object to render and no second
  kind to keep in step with Flavors. ``hw:cpu_policy=dedicated`` asks for dedicated CPUs.
* The root disk of a server that boots an Image is a CDI DataVolume (:func:`root_disk`) the
  operator makes once, owned by the Server, imported from the Image's source and sized by the
  flavor's disk (never below the image's minDisk): it outlives every re-render of the VM (reboot,
  stop/start, resize, move) and goes with the Server; a rebuild makes a new one. A plain
  reference (not an Image) is an ephemeral containerDisk, as before; a boot volume is a PVC.
* Flavor ephemeral and swap are ``emptyDisk``s, as Nova gives them. Image properties shape the
  domain: hw_firmware_type, hw_machine_type, hw_disk_bus, hw_vif_model; os_distro and os_type
  become labels.
* ``runStrategy`` carries the power state: Always for a running server, Halted for a stopped or
  shelved one. Pause, unpause, soft reboot and reset are KubeVirt subresource calls.
* Attached volumes (``spec.volumes``) are PersistentVolumeClaims marked ``hotpluggable`` on SCSI
  disks, as KubeVirt's ``addvolume`` writes them: the same render serves a VM made or re-made
  with them and one that got them hot-plugged (see :mod:`kubenova.kube.workloads`).
* The host the scheduler chose is pinned with a ``kubernetes.io/hostname`` node selector, which a
  live migration moves first (KubeVirt's LiveUpdate carries it to the running instance); the
  eviction strategy is External, so a node drain is answered by kubenova's live migration.
* The keypair reaches the guest through ``accessCredentials`` propagated by KubeVirt's
  OpenStack-format config drive (``config-2``), which also carries the user data; KubeVirt writes
  that drive's ``meta_data.json`` itself (uuid, hostname, public keys). Nova's full
  ``meta_data.json`` (name, availability zone, metadata) is on a second small disk made with the
  downward API, labelled ``nova-meta``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kubenova.backends import networks
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
NETWORK = networks.POD_NETWORK_NAME

CDI_API_VERSION = "cdi.kubevirt.io/v1beta1"
DEFAULT_ROOT_DISK_GIB = 10
"""A root disk's size when the flavor's disk is 0 and the image has no minDisk."""
OS_LABELS = {"os_distro": "compute.kubenova.io/os-distro", "os_type": "compute.kubenova.io/os-type"}
DISK_BUSES = ("virtio", "sata", "scsi", "usb")
VIF_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "pcnet", "ne2k_pci")

UNSUPPORTED: dict[str, str] = {}
"""Nova actions this backend refuses, and why."""


def render(s: PlacedServer, *, access_secret: str | None = None) -> dict[str, Any]:
    """The VirtualMachine for a placed server. ``access_secret`` holds the public key, if any."""
    props = _properties(s)
    bus = props.get("hw_disk_bus") if props.get("hw_disk_bus") in DISK_BUSES else "virtio"
    disks: list[dict[str, Any]] = [{"name": "root", "disk": {"bus": bus}, "bootOrder": 1}]
    volumes: list[dict[str, Any]] = [_root_volume(s)]
    if s.rescue_image:
        # Nova's rescue: boot the rescue image, with the server's own disk attached second.
        disks = [
            {"name": "rescue", "disk": {"bus": "virtio"}, "bootOrder": 1},
            {"name": "root", "disk": {"bus": bus}},
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
    disks_, volumes_ = _extra_disks(s)
    disks += disks_
    volumes += volumes_
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
                "interfaces": networks.vm_interfaces(s.networks, s.namespace),
            },
        },
        "networks": networks.vm_networks(s.networks, s.namespace),
        "volumes": volumes,
        "terminationGracePeriodSeconds": 30,
        # External, not LiveMigrate: KubeVirt's own evacuation would migrate the instance with
        # its hostname pin, so the target could go nowhere and a drain would wait forever. With
        # External, a drain's eviction marks the instance (evacuationNodeName) and kubenova's
        # scheduler picks the destination and live-migrates it (kubenova.servers.live).
        "evictionStrategy": "External",
    }
    if not template_spec["networks"]:  # Nova's networks: none. KubeVirt would add a pod interface
        template_spec["domain"]["devices"]["autoattachPodInterface"] = False
    _apply_properties(template_spec["domain"], props)
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
            "labels": s.labels() | _os_labels(props),
            "ownerReferences": [s.owner_reference()],
        },
        "spec": {
            "runStrategy": "Always" if s.running else "Halted",
            "template": {
                "metadata": {"labels": s.workload_labels(), "annotations": _template_annotations(s)},
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
    if s.image_source:
        return {"name": "root", "dataVolume": {"name": root_disk_name(s)}}
    return {"name": "root", "containerDisk": {"image": s.image}}


def root_disk_name(s: PlacedServer) -> str:
    """The DataVolume (and PVC) of the server's root disk; a rebuild names a new one."""
    return str((s.image_source or {}).get("rootDisk") or f"{s.name}-root")


def root_disk_size(s: PlacedServer) -> int:
    """GiB: the flavor's disk, never below the image's minDisk (a flavor disk of 0: the minDisk)."""
    min_disk = int((s.image_source or {}).get("minDisk") or 0)
    return max(s.flavor.disk, min_disk) or DEFAULT_ROOT_DISK_GIB


def root_disk(s: PlacedServer) -> dict[str, Any] | None:
    """The CDI DataVolume holding the root disk of a server that boots an Image (None for a
    boot volume or a plain reference). Owned by the Server, so it goes with it; made once and
    never re-rendered, so every re-render of the VM finds the same disk."""
    if not s.image_source or s.boot_volume:
        return None
    source = s.image_source.get("source") or {}
    if source.get("containerDisk"):
        cdi_source: dict[str, Any] = {"registry": {"url": f"docker://{source['containerDisk']}"}}
    elif source.get("registry"):
        cdi_source = {"registry": {"url": source["registry"]}}
    elif source.get("http"):
        cdi_source = {"http": {"url": source["http"]}}
    else:
        pvc = source.get("pvc") or {}
        cdi_source = {"pvc": {"namespace": pvc.get("namespace", ""), "name": pvc.get("name", "")}}
    storage: dict[str, Any] = {"resources": {"requests": {"storage": f"{root_disk_size(s)}Gi"}}}
    if s.image_source.get("storageClass"):
        storage["storageClassName"] = s.image_source["storageClass"]
    return {
        "apiVersion": CDI_API_VERSION,
        "kind": "DataVolume",
        "metadata": {
            "name": root_disk_name(s),
            "namespace": s.namespace,
            "labels": s.labels(),
            "ownerReferences": [s.owner_reference()],
        },
        "spec": {"source": cdi_source, "storage": storage},
    }


def _extra_disks(s: PlacedServer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nova's ephemeral disk (GiB) and swap (MiB), as blank emptyDisks."""
    disks: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    for name, size in (("ephemeral0", f"{s.flavor.ephemeral}Gi" if s.flavor.ephemeral else ""),
                       ("swap", f"{s.flavor.swap}Mi" if s.flavor.swap else "")):  # fmt: skip
        if size:
            disks.append({"name": name, "disk": {"bus": "virtio"}})
            volumes.append({"name": name, "emptyDisk": {"capacity": size}})
    return disks, volumes


def _properties(s: PlacedServer) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((s.image_source or {}).get("properties") or {}).items()}


def _apply_properties(domain: dict[str, Any], props: Mapping[str, str]) -> None:
    """The image properties KubeVirt has a field for."""
    firmware = props.get("hw_firmware_type")
    if firmware == "uefi":
        domain["firmware"] = {"bootloader": {"efi": {"secureBoot": False}}}
    elif firmware == "bios":
        domain["firmware"] = {"bootloader": {"bios": {}}}
    if props.get("hw_machine_type"):
        domain["machine"] = {"type": props["hw_machine_type"]}
    model = props.get("hw_vif_model")
    if model in VIF_MODELS:
        for iface in domain["devices"]["interfaces"]:
            if "sriov" not in iface:  # an SR-IOV NIC is the device's own, with no model
                iface["model"] = model


def _os_labels(props: Mapping[str, str]) -> dict[str, str]:
    """os_distro and os_type as labels (when they make valid label values)."""
    out = {}
    for prop, label in OS_LABELS.items():
        value = props.get(prop, "")
        if value and len(value) <= 63 and value.replace("-", "").replace("_", "").replace(".", "").isalnum():
            out[label] = value
    return out


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


def with_root_disk(obs: Observation, disk: Mapping[str, Any] | None) -> Observation:
    """The VM's observation with its root disk's: not ready until CDI has imported it (phase
    Succeeded), and failed with CDI's reason if the import failed."""
    if disk is None:
        return obs
    status = disk.get("status") or {}
    phase = status.get("phase") or "Pending"
    if phase == "Succeeded":
        return obs
    if phase == "Failed":
        reasons = [
            c.get("message") or c.get("reason") for c in status.get("conditions") or [] if c.get("status") != "True"
        ]
        why = next((r for r in reasons if r), "the import failed")
        return dataclasses.replace(
            obs, ready=False, failure=f"DataVolumeError: root disk {disk['metadata']['name']}: {why}"
        )
    return dataclasses.replace(obs, ready=False)
