"""The shapes of a Server's raw body, as the operator reads and writes them: TypedDicts over the
JSON (zero run-time cost; the operator is CPU-bound), mirroring the pydantic models in
:mod:`kubenova.api.servers` and :mod:`kubenova.api.server_status` that generate the CRD. A
status read from the API server is one of these; a patch (:data:`Patch`) is a JSON merge patch
of ``status``, where None clears a field.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict

Patch = dict[str, Any]
"""A JSON merge patch of a Server's status (None clears a field)."""


class SchedulerHints(TypedDict, total=False):
    group: str
    sameHost: list[str]
    differentHost: list[str]


class VolumeSpec(TypedDict, total=False):
    """One of spec.volumes."""

    claimName: Required[str]
    device: str
    tag: str
    deleteOnTermination: bool


class AttachmentBody(TypedDict, total=False):
    """One of status.volumeAttachments (Nova's os-volume_attachments entry)."""

    id: Required[str]
    serverId: str
    device: str
    tag: str
    deleteOnTermination: bool
    state: str
    """attaching, attached or detaching."""
    pendingRestart: bool
    root: bool


class ServerSpec(TypedDict, total=False):
    flavor: Required[str]
    image: str
    bootVolume: dict[str, str]
    volumes: list[VolumeSpec]
    backend: str
    keyName: str
    availabilityZone: str
    metadata: dict[str, str]
    userData: str
    hostname: str
    schedulerHints: SchedulerHints
    state: str
    locked: bool
    lockedReason: str | None
    rescue: bool
    rescueImage: str
    autoConfirmResize: bool
    networks: list[dict[str, str]]
    securityGroups: list[str]


class FlavorCopy(TypedDict, total=False):
    """The flavor a Server embeds in its status (Nova's, since 2.47)."""

    originalName: Required[str]
    vcpus: Required[int]
    ram: Required[int]
    disk: int
    ephemeral: int
    swap: int
    extraSpecs: dict[str, str]


class ClaimBody(TypedDict):
    host: str
    vcpus: int
    memoryMb: int
    diskGb: int


class MigrationBody(TypedDict, total=False):
    kind: str
    sourceHost: str | None
    destHost: str | None
    oldFlavor: str | None
    newFlavor: str | None
    status: str
    previousVmState: str | None
    sourceClaim: ClaimBody | None
    sourceFlavor: FlavorCopy | None
    abortRequested: bool | None
    requestId: str | None
    created: str | None


class ActionRecord(TypedDict, total=False):
    """One entry of the action history (openstack server event list)."""

    requestId: Required[str]
    action: Required[str]
    startTime: Required[str]
    finishTime: str
    result: str
    message: str
    serverAction: str


class WorkloadRef(TypedDict):
    apiVersion: str
    kind: str
    name: str
    revision: str | None


class FaultBody(TypedDict, total=False):
    code: int
    message: str
    created: str
    details: str


class ServerStatus(TypedDict, total=False):
    id: str
    status: str
    vmState: str
    taskState: str | None
    powerState: str
    powerStateCode: int
    fault: FaultBody | None
    host: str | None
    hypervisorHostname: str | None
    availabilityZone: str
    backend: str
    claim: ClaimBody | None
    workload: WorkloadRef | None
    addresses: list[dict[str, Any]]
    flavor: FlavorCopy
    image: str | None
    imageSource: dict[str, Any] | None
    keyName: str | None
    locked: bool
    lockedReason: str | None
    launchedAt: str
    updated: str
    migration: MigrationBody | None
    actions: list[ActionRecord] | None
    observedGeneration: int
    conditions: list[dict[str, Any]]
    volumeAttachments: list[AttachmentBody]
    volumesAttached: list[dict[str, Any]]
