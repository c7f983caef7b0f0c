"""A hand-made world for the planner's phases: Facts over plain dicts, and Servers by state."""

from __future__ import annotations

import dataclasses
from typing import Any

from kubenova import quotas
from kubenova.scheduling.claims import Claim, Ledger
from kubenova.scheduling.model import Hosts, HostState
from kubenova.servers import claims
from kubenova.servers.bodies import Patch
from kubenova.servers.view import Facts, Server

NOW = "2026-12-01T00:00:00Z"
UID = "0b5b3a36-4d3b-4a1a-9d3e-2a1f1c0e9b11"
SMALL = {"vcpus": 1, "ram": 1024, "disk": 5}
LARGE = {"vcpus": 2, "ram": 2048, "disk": 10}


@dataclasses.dataclass
class World:
    """What Facts answer from; change a field, then call :meth:`facts` again."""

    flavors: dict[str, dict[str, Any]] = dataclasses.field(
        default_factory=lambda: {"m1.small": dict(SMALL), "m1.large": dict(LARGE)}
    )
    keypairs: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    limits: dict[str, int] = dataclasses.field(default_factory=lambda: dict(quotas.NOVA_DEFAULTS))
    used: list[quotas.ServerUsage] = dataclasses.field(default_factory=list)
    groups: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    members: dict[tuple[str, str], list[str]] = dataclasses.field(default_factory=dict)
    claims: dict[str, Claim] = dataclasses.field(default_factory=dict)
    hosts: list[HostState] = dataclasses.field(
        default_factory=lambda: [HostState("h1", 4, 8192, 100), HostState("h2", 4, 8192, 100)]
    )
    down: set[str] = dataclasses.field(default_factory=set)
    maintenance: dict[str, str] = dataclasses.field(default_factory=dict)
    images: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Images by name, as ``{"spec": ..., "status": ...}``."""
    storage_class: str = ""
    storage_classes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """StorageClasses by name ("" for the default)."""
    ledgers: list[Ledger] = dataclasses.field(default_factory=list)
    """Every ledger handed out (a phase's claims land in its copy)."""

    def ledger(self) -> Ledger:
        led = Ledger()
        led.rebuild(self.claims.items())
        self.ledgers.append(led)
        return led

    def facts(self) -> Facts:
        return Facts(
            default_backend="container",
            flavor=self.flavors.get,
            public_key=lambda ns, name: self.keypairs.get((ns, name)),
            limits=lambda ns: self.limits,
            usage=lambda ns: quotas.Usage.count(self.used),
            group=lambda ns, name: self.groups.get((ns, name)),
            group_members=lambda ns, name: self.members.get((ns, name), []),
            ledger=self.ledger,
            hosts=lambda: Hosts(self.hosts),
            zone=lambda host: "nova",
            host_up=lambda host: host not in self.down,
            maintenance=lambda host: self.maintenance.get(host) if host else None,
            image=self.images.get,
            root_disk_storage_class=self.storage_class,
            storage_class=lambda name: self.storage_classes.get(name or ""),
        )


def server(status: dict[str, Any] | None = None, *, name: str = "s1", generation: int = 1, **spec: Any) -> Server:
    meta = {"name": name, "namespace": "ns", "uid": UID, "generation": generation, "finalizers": []}
    return Server.of({"metadata": meta, "spec": {"flavor": "m1.small", "image": "busybox", **spec}, "status": status})


def written(s: Server, patch: Patch | None) -> Server:
    """The server as the API server stores it after ``patch`` (a merge patch: None removes)."""
    assert patch is not None
    merged = {k: v for k, v in {**s.status, **patch}.items() if v is not None}
    return Server.of({"metadata": s.meta, "spec": s.spec, "status": merged})


def claim_status(host: str, flavor: dict[str, Any] = SMALL) -> dict[str, Any]:
    return dict(claims.to_status(Claim(host, flavor["vcpus"], flavor["ram"], flavor["disk"])))


def active(host: str = "h1", flavor: str = "m1.small", **extra: Any) -> dict[str, Any]:
    """The status of a server that built and runs on ``host``."""
    spec = {"m1.small": SMALL, "m1.large": LARGE}[flavor]
    return {
        "id": UID,
        "vmState": "active",
        "taskState": None,
        "powerState": "RUNNING",
        "status": "ACTIVE",
        "backend": "container",
        "image": "busybox",
        "flavor": {"originalName": flavor, **spec, "ephemeral": 0, "swap": 0, "extraSpecs": {}},
        "claim": claim_status(host, spec),
        "host": host,
        "workload": {"apiVersion": "v1", "kind": "Pod", "name": "s1", "revision": "req-0"},
        "observedGeneration": 1,
        "actions": [
            {"requestId": "req-0", "action": "create", "startTime": NOW, "finishTime": NOW, "result": "Success"}
        ],
        "conditions": [],
        **extra,
    }
