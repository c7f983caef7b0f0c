"""What the planner reads: one Server, typed (:class:`Server`), and what the operator knows
besides it (:class:`Facts`). Built once per reconcile by the executor
(:mod:`kubenova.handlers.server_executor`); unit tests build them by hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from kubenova import quotas
from kubenova.scheduling.claims import Ledger
from kubenova.scheduling.model import Hosts
from kubenova.servers.bodies import Patch, ServerSpec, ServerStatus


@dataclasses.dataclass(frozen=True, slots=True)
class Server:
    """One Server as its body says: metadata, spec and status."""

    name: str
    namespace: str
    uid: str
    generation: int | None
    spec: ServerSpec
    status: ServerStatus
    meta: Mapping[str, Any]
    """The body's metadata (for Events and the workload's owner reference)."""

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Server:
        meta = body["metadata"]
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
            generation=meta.get("generation"),
            spec=cast(ServerSpec, body.get("spec") or {}),
            status=cast(ServerStatus, body.get("status") or {}),
            meta=meta,
        )

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))

    def with_status(self, patch: Patch) -> Server:
        """This server as if ``patch`` were written (for a phase that continues in one write)."""
        return dataclasses.replace(self, status=cast(ServerStatus, {**self.status, **patch}))


@dataclasses.dataclass(frozen=True, slots=True)
class Facts:
    """What the operator knows besides the Server, as lookups (each reads kopf's live indexes
    when called, so a phase pays only for what it asks; like :class:`kubenova.admission.View`)."""

    default_backend: str
    flavor: Callable[[str], Mapping[str, Any] | None]
    """A Flavor's spec by name."""
    public_key: Callable[[str, str], str | None]
    """A Keypair's public key by (namespace, name): "" if it has none yet, None if it is missing."""
    limits: Callable[[str], Mapping[str, int]]
    """A namespace's quota limits."""
    usage: Callable[[str], quotas.Usage]
    """A namespace's quota usage (with this process's admissions the index has not seen)."""
    group: Callable[[str, str], Mapping[str, Any] | None]
    """A ServerGroup's spec by (namespace, name)."""
    group_members: Callable[[str, str], Sequence[str]]
    """The servers naming a group in their scheduler hints, by (namespace, group)."""
    ledger: Callable[[], Ledger]
    """Every claim (call under the scheduler's lock; the planner may change the copy it gets)."""
    hosts: Callable[[], Hosts]
    """The scheduler's host states."""
    zone: Callable[[str], str]
    """A host's availability zone."""
    host_up: Callable[[str], bool]
    """Whether a host's compute service is up (its Host status says so)."""
    maintenance: Callable[[str | None], str | None]
    """The maintenance an admin asked for on a host (migrate, stop), or None."""
    storage_class: Callable[[str | None], Mapping[str, Any] | None] = dataclasses.field(default=lambda _name: None)
    """A StorageClass (name, volumeBindingMode, provisioner) by name; None: the default class."""
    root_disk_storage_class: str = ""
    """The operator's storage class for root disks (a flavor's extra spec comes first)."""
    image: Callable[[str], Mapping[str, Any] | None] = dataclasses.field(default=lambda _name: None)
    """An Image by name, as ``{"spec": ..., "status": ...}``; None if no Image has that name
    (then ``spec.image`` is a plain container reference)."""
    claim: Callable[[str, str], Mapping[str, Any] | None] = lambda namespace, name: None
    """A PersistentVolumeClaim by (namespace, name): its accessModes; None if it does not exist."""
    claim_holders: Callable[[str, str], Sequence[str]] = lambda namespace, name: ()
    """The servers holding a claim (attached, attaching, or booted from it), by (namespace, name)."""
    evacuating: Callable[[str, str], str | None] = lambda namespace, name: None
    """The node KubeVirt asks the server's instance to leave (a drain's eviction: the instance's
    ``status.evacuationNodeName``), by (namespace, name); None if none."""
