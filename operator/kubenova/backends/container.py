"""The container backend: a Server runs as a Pod bound to its host.

* The flavor becomes requests and limits (equal, so the Pod is Guaranteed, as a VM's resources
  are): ``vcpus`` CPUs, ``ram`` MiB, and root plus ephemeral disk as ephemeral storage.
* ``nodeName`` binds it to the host the scheduler chose (no kube-scheduler decision on top).
* Nova's ``meta_data.json`` and the keypair's ``authorized_keys`` are annotations on the Pod,
  mounted into it with the downward API, so no extra object is written for them; user data
  comes from the server's Secret, when it has one. Everything lands under
  ``/var/lib/kubenova/`` (``meta_data.json``, ``authorized_keys``, ``user_data``).
* A restricted security context (non-root, no privilege escalation, all capabilities dropped,
  seccomp RuntimeDefault) and no service-account token: the workload is a tenant, not a
  controller.

* Attached volumes are the Pod's PersistentVolumeClaim volumes, mounted at
  ``/mnt/volumes/<claim>``. A Pod's volumes cannot change while it runs: a volume attached or
  detached meanwhile is applied when the Pod is next made, never by restarting it for that.

A Pod cannot be paused, suspended or live-migrated, and cannot be stopped and kept: stop and
start, reboot, rebuild, resize and cold migration replace the Pod (see :data:`UNSUPPORTED`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubenova.backends import networks
from kubenova.backends.workload import (
    AUTHORIZED_KEYS_ANNOTATION,
    META_DATA_ANNOTATION,
    REVISION_ANNOTATION,
    Address,
    Observation,
    PlacedServer,
    meta_data_json,
    volume_name,
)

NAME = "container"
API_VERSION = "v1"
KIND = "Pod"
PLURAL = "pods"
KEY_SECRET = False
"""The public key is an annotation on the Pod, mounted with the downward API."""
KEEPS_STOPPED = False
"""A Pod cannot be stopped and kept: stopping it deletes it."""
CONFIG_DIR = "/var/lib/kubenova"
VOLUMES_DIR = "/mnt/volumes"
NETWORK = "pod"

UNSUPPORTED = {
    "pause": "a Pod cannot be frozen; stop it instead, or use the kubevirt backend",
    "unpause": "a Pod cannot be frozen",
    "suspend": "a Pod's memory cannot be saved; stop or shelve it instead, or use the kubevirt backend",
    "resume": "a Pod's memory cannot be saved",
    "live_migrate": "a running Pod cannot move; migrate it (cold), which restarts it on another host",
    "rescue": "a Pod has no disk to boot a rescue image beside; rebuild it with another image",
    "unrescue": "a Pod cannot be rescued",
}
"""Nova actions (by :class:`kubenova.nova.actions.Action` value) this backend refuses, and why."""


def render(s: PlacedServer) -> dict[str, Any]:
    """The Pod for a placed, running server (a stopped server has no Pod)."""
    size = {
        "cpu": str(s.flavor.vcpus),
        "memory": f"{s.flavor.ram}Mi",
        "ephemeral-storage": f"{s.flavor.disk + s.flavor.ephemeral}Gi",
    }
    annotations = {META_DATA_ANNOTATION: meta_data_json(s)} | networks.pod_annotations(s.networks, s.namespace)
    if s.revision:
        annotations[REVISION_ANNOTATION] = s.revision
    items = [{"path": "meta_data.json", "fieldRef": {"fieldPath": f"metadata.annotations['{META_DATA_ANNOTATION}']"}}]
    if s.public_key:
        annotations[AUTHORIZED_KEYS_ANNOTATION] = s.public_key.strip() + "\n"
        items.append(
            {
                "path": "authorized_keys",
                "fieldRef": {"fieldPath": f"metadata.annotations['{AUTHORIZED_KEYS_ANNOTATION}']"},
            }
        )
    sources: list[dict[str, Any]] = [{"downwardAPI": {"items": items}}]
    if s.user_data_secret:
        sources.append({"secret": {"name": s.user_data_secret, "items": [{"key": "userdata", "path": "user_data"}]}})
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": s.name,
            "namespace": s.namespace,
            "labels": s.workload_labels(),
            "annotations": annotations,
            "ownerReferences": [s.owner_reference()],
        },
        "spec": {
            "nodeName": s.host,
            "hostname": s.guest_hostname,
            "restartPolicy": "Always",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "server",
                    "image": s.image,
                    "resources": {"requests": dict(size), "limits": dict(size)},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "nova-config", "mountPath": CONFIG_DIR, "readOnly": True},
                        *({"name": volume_name(c), "mountPath": f"{VOLUMES_DIR}/{c}"} for c in s.volumes),
                    ],
                }
            ],
            "volumes": [
                {"name": "nova-config", "projected": {"sources": sources}},
                *({"name": volume_name(c), "persistentVolumeClaim": {"claimName": c}} for c in s.volumes),
            ],
        },
    }


def observe(pod: Mapping[str, Any] | None) -> Observation:
    """Nova's view of a Pod: running and ready is RUNNING; a Pod that ended is SHUTDOWN."""
    if pod is None:
        return Observation(exists=False)
    revision = (pod.get("metadata", {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return Observation(exists=True, power="SHUTDOWN", revision=revision)
    status = pod.get("status", {})
    phase = status.get("phase", "Pending")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
    addresses = tuple(Address(NETWORK, ip["ip"], 6 if ":" in ip["ip"] else 4) for ip in status.get("podIPs", []))
    failure = _waiting_failure(status)
    claims = frozenset(
        v["persistentVolumeClaim"]["claimName"]
        for v in pod.get("spec", {}).get("volumes") or []
        if v.get("persistentVolumeClaim")
    )
    power = {"Running": "RUNNING", "Succeeded": "SHUTDOWN", "Failed": "CRASHED"}.get(phase, "NOSTATE")
    return Observation(
        exists=True,
        power=power,  # type: ignore[arg-type]
        ready=ready and phase == "Running",
        host=pod.get("spec", {}).get("nodeName"),
        addresses=addresses,
        failure=failure,
        revision=revision,
        volumes=claims,
    )


def _waiting_failure(status: Mapping[str, Any]) -> str | None:
    # Image pull failures never resolve by waiting: report them as the fault.
    for cs in status.get("containerStatuses", []):
        waiting = cs.get("state", {}).get("waiting", {})
        if waiting.get("reason") in {
            "ErrImagePull",
            "ImagePullBackOff",
            "InvalidImageName",
            "CreateContainerConfigError",
        }:
            return f"{waiting['reason']}: {waiting.get('message', '')}".strip(": ")
    return None
