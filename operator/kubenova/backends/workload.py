"""A Server's workload, as every backend sees it: the placed server it renders from
(:class:`PlacedServer`, built by :func:`kubenova.servers.placing.placed` from the Server, its
embedded flavor copy, its keypair and its claim; frozen, so a render is a pure function of it),
what a backend observes of the workload (:class:`Observation`), and the Secrets it mounts.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from kubenova import securitygroups, zones
from kubenova.api.common import API_VERSION, GROUP
from kubenova.backends import networks as nets

SERVER_LABEL = f"{GROUP}/server"
META_DATA_ANNOTATION = f"{GROUP}/meta-data"
AUTHORIZED_KEYS_ANNOTATION = f"{GROUP}/authorized-keys"
REVISION_ANNOTATION = f"{GROUP}/revision"
"""The boot a workload carries; the Server's status says which one it must carry."""
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubenova"}

Power = Literal["NOSTATE", "RUNNING", "PAUSED", "SHUTDOWN", "CRASHED", "SUSPENDED"]


@dataclasses.dataclass(frozen=True)
class Flavor:
    """The flavor as placed (the copy a Server keeps in its status, as Nova embeds it)."""

    name: str
    vcpus: int
    ram: int
    """MiB"""
    disk: int
    """GiB, root disk"""
    ephemeral: int = 0
    swap: int = 0
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class PlacedServer:
    name: str
    namespace: str
    uid: str
    flavor: Flavor
    host: str
    image: str | None = None
    boot_volume: str | None = None
    """PersistentVolumeClaim to boot from (KubeVirt only), instead of an image."""
    hostname: str | None = None
    availability_zone: str = zones.DEFAULT_ZONE
    key_name: str | None = None
    public_key: str | None = None
    user_data_secret: str | None = None
    """Secret holding the user data (key ``userdata``), if the server has any."""
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    running: bool = True
    """Whether the workload should run (a stopped or shelved server keeps no running workload)."""
    revision: str | None = None
    """The boot this workload is (see REVISION_ANNOTATION)."""
    rescue_image: str | None = None
    """Set while the server is rescued: boot this image, with the server's own disk attached."""
    image_source: Mapping[str, Any] | None = None
    """What the server keeps of the Image it boots (status.imageSource: its source, minDisk,
    properties, storage class, root disk); None for a plain reference (``image``)."""
    volumes: tuple[str, ...] = ()
    """PersistentVolumeClaims attached (besides a boot volume), in attachment order."""
    networks: nets.Networks = nets.DEFAULT
    """The networks it is attached to (see :mod:`kubenova.backends.networks`)."""
    security_groups: tuple[str, ...] = ()
    """The SecurityGroups it is a member of: a label each on the Pod (or the VM's Pods)."""

    @property
    def guest_hostname(self) -> str:
        return self.hostname or derive_hostname(self.name)

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "Server",
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def labels(self) -> dict[str, str]:
        return {SERVER_LABEL: self.name, **MANAGED_BY}

    def workload_labels(self) -> dict[str, str]:
        """The labels of the Pod that runs it (a Pod, or a VM's template): its security groups' too."""
        return self.labels() | securitygroups.member_labels(self.security_groups)


@dataclasses.dataclass(frozen=True)
class Address:
    network: str
    addr: str
    version: int = 4
    mac: str | None = None


@dataclasses.dataclass(frozen=True)
class Observation:
    """What a backend saw of a workload, in Nova's terms."""

    exists: bool
    power: Power = "NOSTATE"
    ready: bool = False
    host: str | None = None
    addresses: tuple[Address, ...] = ()
    failure: str | None = None
    """A reason the workload cannot run (image pull failure, unschedulable...), for the fault."""
    failure_code: int = 500
    """The fault's code: 500 (a failed spawn), or 400 for a request that cannot be met (a
    network that does not exist)."""
    revision: str | None = None
    """The boot the workload carries (its REVISION_ANNOTATION)."""
    volumes: frozenset[str] = frozenset()
    """The claims attached to the workload (besides a boot volume)."""


_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
VOLUME_PREFIX = "vol-"


def volume_name(claim: str) -> str:
    """The name of a claim's volume (and disk) in a workload: a DNS label, one per claim."""
    if _LABEL.match(claim) and len(claim) <= 59:
        return VOLUME_PREFIX + claim
    digest = hashlib.sha256(claim.encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-z0-9-]+", "-", claim)[:40].strip("-")
    return f"{VOLUME_PREFIX}{stem}-{digest}"


def user_data_secret(server_name: str) -> str:
    """The Secret that carries a server's user data (key ``userdata``), made by the operator."""
    return f"{server_name}-user-data"


def access_secret(server_name: str) -> str:
    """The Secret that carries a server's public key for KubeVirt's accessCredentials."""
    return f"{server_name}-ssh-key"


def secrets(s: PlacedServer, *, user_data_b64: str | None, key_secret: bool) -> dict[str, dict[str, str]]:
    """The Secrets a workload mounts, by name, as base64 ``data``: user data for every backend,
    and with ``key_secret`` (a backend whose guest reads its key from a Secret, as KubeVirt's
    accessCredentials do; a Pod gets it from an annotation) the public key."""
    out: dict[str, dict[str, str]] = {}
    if user_data_b64 and s.user_data_secret:
        out[s.user_data_secret] = {"userdata": user_data_b64}
    if key_secret and s.public_key:
        out[access_secret(s.name)] = {"key": base64.b64encode(s.public_key.strip().encode()).decode()}
    return out


def derive_hostname(name: str) -> str:
    """Nova's hostname from a display name (2.90): lower case, [a-z0-9-], at most 63 characters."""
    host = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return host[:63].rstrip("-") or "server"


def meta_data(s: PlacedServer) -> dict[str, Any]:
    """Nova's ``openstack/latest/meta_data.json`` for the server, as the metadata service gives it."""
    data: dict[str, Any] = {
        "uuid": s.uid,
        "name": s.name,
        "hostname": s.guest_hostname,
        "launch_index": 0,
        "availability_zone": s.availability_zone,
        "project_id": s.namespace,
        "meta": dict(s.metadata),
        "devices": [],
    }
    if s.key_name and s.public_key:
        data["public_keys"] = {s.key_name: s.public_key}
        data["keys"] = [{"name": s.key_name, "type": "ssh", "data": s.public_key}]
    return data


def meta_data_json(s: PlacedServer) -> str:
    return json.dumps(meta_data(s), sort_keys=True, separators=(",", ":"))
