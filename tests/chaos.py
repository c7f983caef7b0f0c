"""The pure parts of the chaos test (tests/integration/test_chaos.py): the random plan a seed
gives, the expected-state model of each server, and the invariant checks over plain dicts (as
``kubectl get -o json`` prints the objects), so that each is unit tested without a cluster.

A plan is a list of steps: a fault (kind only) or an action (a kind and a server's index). The
driver maps an action onto what the server's observed status allows (:func:`choose`), as a user
looking at ``openstack server show`` would, so a replayed seed gives the same plan though the
cluster's timing may make it choose differently.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

FAULTS = ("operator", "apiserver", "etcd", "node", "webhook")
ACTIONS = (
    "stop",
    "start",
    "reboot",
    "resize",
    "migrate",
    "shelve",
    "offload",
    "unshelve",
    "rebuild",
    "delete",
    "confirm",
    "revert",
    "attach",
    "detach",
    "createImage",
    "liveMigrate",
)
# Deletes are rarer, so that most servers live through most of the run; the newer actions more
# frequent, so that the CI size meets each (live migration only moves an ACTIVE VM).
WEIGHTS = {"delete": 0.2, "liveMigrate": 3, "createImage": 2, "detach": 1.5}
# What a user may ask of a server showing each Nova status (Nova's check_instance_state; a
# volume in the vm_states of compute/api.py attach_volume, a snapshot in those of snapshot, a
# live migration from active (paused too, which the plan never asks for)).
ALLOWED: dict[str, tuple[str, ...]] = {
    "ACTIVE": (
        "stop",
        "reboot",
        "resize",
        "migrate",
        "shelve",
        "offload",
        "rebuild",
        "delete",
        "attach",
        "detach",
        "createImage",
        "liveMigrate",
    ),
    "SHUTOFF": ("start", "shelve", "offload", "delete", "attach", "detach", "createImage"),
    "VERIFY_RESIZE": ("confirm", "revert", "attach", "detach"),
    "SHELVED": ("unshelve", "offload", "delete", "attach", "detach"),
    "SHELVED_OFFLOADED": ("unshelve", "delete", "attach", "detach"),
    "ERROR": ("delete",),
}
# Volumes are the kubevirt backend's here: a container server records them for its Pod's next
# start, which the model does not follow. Snapshots and live migration are tried on containers
# too, and must be refused with Nova's 501.
VOLUME_ACTIONS = ("attach", "detach")
NOT_SUPPORTED = {"container": ("createImage", "liveMigrate")}
# The spec's state -> the Nova status it settles in.
SETTLES_IN = {"active": "ACTIVE", "stopped": "SHUTOFF", "shelved": "SHELVED", "shelved_offloaded": "SHELVED_OFFLOADED"}
# The spec's state each spec-edit action declares.
DECLARES = {
    "stop": "stopped",
    "start": "active",
    "shelve": "shelved",
    "offload": "shelved_offloaded",
    "unshelve": "active",
}
# A migration record's statuses once the move is over (Nova's; any other is a move under way).
MOVE_ENDED = (None, "done", "confirmed", "reverted", "error", "failed", "completed", "cancelled")
# A Migration record's statuses once the move has ended ("finished": a resize or cold migration
# waiting for confirm or revert).
RECORD_ENDED = ("finished", *MOVE_ENDED[1:])
# An Image's statuses once its snapshot has ended (Glance's).
IMAGE_ENDED = ("active", "killed")
# Statuses a server holds no workload in (a Pod cannot be stopped and kept: stopping or shelving deletes it).
NO_WORKLOAD = {"SHELVED_OFFLOADED"}
NO_POD = NO_WORKLOAD | {"SHUTOFF", "SHELVED"}


@dataclasses.dataclass(frozen=True)
class Step:
    kind: str
    """A fault (one of :data:`FAULTS`) or an action (one of :data:`ACTIONS`)."""
    server: int | None = None
    """The server's index, for an action."""

    @property
    def is_fault(self) -> bool:
        return self.kind in FAULTS


def plan(seed: int, *, servers: int, steps: int, fault_every: int = 4) -> list[Step]:
    """``steps`` steps for ``servers`` servers: mostly actions, about one fault in ``fault_every``."""
    rng = random.Random(seed)
    out: list[Step] = []
    for _ in range(steps):
        if rng.randrange(fault_every) == 0:
            out.append(Step(rng.choice(FAULTS)))
        else:
            kind = rng.choices(ACTIONS, weights=[WEIGHTS.get(a, 1) for a in ACTIONS])[0]
            out.append(Step(kind, rng.randrange(servers)))
    return out


def choose(wanted: str, status: str | None, rng: random.Random, backend: str = "kubevirt") -> str | None:
    """The action to apply to a server showing ``status``: ``wanted`` if allowed, else one the
    status allows (None while the server is busy or in a status no user acts on)."""
    allowed = ALLOWED.get(status or "", ())
    if backend == "container":
        allowed = tuple(a for a in allowed if a not in VOLUME_ACTIONS)
    if not allowed:
        return None
    if wanted in allowed:
        return wanted
    instead = [a for a in allowed if a != "delete"] or list(allowed)
    return rng.choice(instead)


@dataclasses.dataclass
class Expected:
    """What a server's spec and its finished actions imply."""

    state: str = "active"
    """The spec's state."""
    deleted: bool = False
    verify: bool = False
    """A resize or migration waits for confirm/revert."""
    volumes: tuple[str, ...] = ()
    """The claims ``spec.volumes`` lists, in its order."""

    def statuses(self) -> set[str]:
        if self.verify:
            return {"VERIFY_RESIZE"}
        return {SETTLES_IN[self.state]}

    def apply(self, action: str, claim: str | None = None) -> None:
        """The action was accepted (a spec edit made, a ServerAction Succeeded). createImage and
        liveMigrate leave the server where it was (a snapshot keeps the vm_state, a live move
        keeps ACTIVE); ``claim`` is the volume attached or detached."""
        if action == "attach" and claim and claim not in self.volumes:
            self.volumes = (*self.volumes, claim)
        elif action == "detach":
            self.volumes = tuple(v for v in self.volumes if v != claim)
        elif action == "delete":
            self.deleted = True
        elif action in ("resize", "migrate"):
            self.verify = True
        elif action in ("confirm", "revert"):
            self.verify = False
        elif action in DECLARES:
            self.state = DECLARES[action]


def backend_of(name: str) -> str:
    """Servers are named c000, c001, ...: even-numbered ones are Pods, odd-numbered VirtualMachines."""
    return "kubevirt" if int(name[1:]) % 2 else "container"


def volume_claims(name: str) -> tuple[str, str]:
    """The two claims a kubevirt server attaches and detaches (made before the run)."""
    return f"{name}-a", f"{name}-b"


def volume_change(
    wanted: str, attached: tuple[str, ...], claims: tuple[str, ...], rng: random.Random
) -> tuple[str, str]:
    """The volume action and claim for ``wanted`` (attach or detach): attach one of ``claims``
    not attached, detach one attached; the other when there is none to take."""
    free = [c for c in claims if c not in attached]
    if (wanted == "attach" and free) or not attached:
        return "attach", rng.choice(free)
    return "detach", rng.choice(attached)


# --- invariants ------------------------------------------------------------------------------


def _status(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def check_states(servers: Iterable[Mapping[str, Any]], expected: Mapping[str, Expected]) -> list[str]:
    """Each server is where its spec and actions imply, or in ERROR with a fault; a deleted one is gone."""
    problems: list[str] = []
    found = {s["metadata"]["name"]: s for s in servers}
    for name, exp in expected.items():
        s = found.get(name)
        if exp.deleted:
            if s is not None:
                problems.append(f"{name}: deleted but still there")
            continue
        if s is None:
            problems.append(f"{name}: lost (expected {sorted(exp.statuses())})")
            continue
        st = _status(s)
        if st.get("status") == "ERROR":
            if not (st.get("fault") or {}).get("message"):
                problems.append(f"{name}: ERROR without a fault")
        elif st.get("status") not in exp.statuses() and not _move_failed(st, exp):
            problems.append(f"{name}: {st.get('status')}, expected {sorted(exp.statuses())}")
        if st.get("taskState"):
            problems.append(f"{name}: task_state {st['taskState']} stuck")
    return problems


def _move_failed(status: Mapping[str, Any], exp: Expected) -> bool:
    """A resize or migration the scheduler or a backend refused leaves the server where it was
    (Nova: the action's record says Error, the instance stays ACTIVE or SHUTOFF)."""
    records = status.get("actions") or []
    failed = bool(records) and records[-1].get("result") == "Error"
    return exp.verify and failed and status.get("status") == SETTLES_IN[exp.state]


def check_workloads(servers: Iterable[Mapping[str, Any]], workload_owners: Iterable[str]) -> list[str]:
    """Exactly one workload per server that should have one, none for the others."""
    counts = Counter(workload_owners)
    problems: list[str] = []
    names = set()
    for s in servers:
        name, status = s["metadata"]["name"], _status(s).get("status")
        names.add(name)
        none = NO_POD if (s.get("spec") or {}).get("backend") == "container" else NO_WORKLOAD
        want = 0 if status in none or (status == "ERROR" and not _status(s).get("host")) else 1
        if status == "ERROR" and counts[name] <= 1:
            continue  # an ERROR server may or may not still have its workload
        if counts[name] != want:
            problems.append(f"{name} ({status}): {counts[name]} workloads, expected {want}")
    problems += [f"{name}: {n} workloads of no server" for name, n in counts.items() if name not in names]
    return problems


def claims_of(server: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claims a server holds: its own, and the source's during an unfinished move."""
    st = _status(server)
    held = [st["claim"]] if st.get("claim") else []
    source = (st.get("migration") or {}).get("sourceClaim")
    if source:
        held.append(source)
    return held


def usage(host: Mapping[str, Any]) -> tuple[int, int]:
    """A Host's (vCPUs, MiB) used as its status reports them (reserved memory included)."""
    st = _status(host)
    return int(st.get("vcpusUsed") or 0), int(st.get("memoryMbUsed") or 0)


def check_claims(
    servers: Iterable[Mapping[str, Any]],
    hosts: Iterable[Mapping[str, Any]],
    baseline: Mapping[str, tuple[int, int]] | None = None,
) -> list[str]:
    """Each Host's usage (less its ``baseline``, the usage it had before any server: reserved
    memory) is the sum of the claims on it, and it lists exactly the servers claiming it; a
    server holds a claim unless shelved-offloaded, and two only during an unfinished move."""
    problems: list[str] = []
    used: dict[str, Counter[str]] = {}
    on: dict[str, set[str]] = {}
    for s in servers:
        name, st = s["metadata"]["name"], _status(s)
        held = claims_of(s)
        moving = (st.get("migration") or {}).get("status") not in MOVE_ENDED
        if len(held) > 1 and not moving and st.get("status") != "VERIFY_RESIZE":
            problems.append(f"{name}: {len(held)} claims and no unfinished move")
        if not held and st.get("status") not in NO_WORKLOAD | {"ERROR"}:
            problems.append(f"{name} ({st.get('status')}): no claim")
        for c in held:
            used.setdefault(c["host"], Counter()).update(vcpus=c["vcpus"], memory_mb=c["memoryMb"])
            on.setdefault(c["host"], set()).add(name)
    for h in hosts:
        name, st = h["metadata"]["name"], _status(h)
        want = used.get(name, Counter())
        base = (baseline or {}).get(name, (0, 0))
        have = tuple(u - b for u, b in zip(usage(h), base, strict=True))
        if have != (want["vcpus"], want["memory_mb"]):
            problems.append(f"host {name}: uses {have}, claims sum to {(want['vcpus'], want['memory_mb'])}")
        listed = {r["name"] for r in st.get("servers", [])}
        if listed != on.get(name, set()):
            problems.append(f"host {name}: lists {sorted(listed)}, claimed by {sorted(on.get(name, set()))}")
    return problems


def check_actions(actions: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every ServerAction has ended (Succeeded or Failed, with a finish time)."""
    problems = []
    for a in actions:
        st = _status(a)
        if st.get("phase") not in ("Succeeded", "Failed"):
            problems.append(f"serveraction {a['metadata']['name']}: {st.get('phase')}")
    return problems


def check_volumes(
    servers: Iterable[Mapping[str, Any]], expected: Mapping[str, Expected], vms: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """A kubevirt server (not in ERROR) has exactly the volumes its spec lists attached, none in
    flight, and its VirtualMachine (when it has one) carries exactly those as hot-plugged claims."""
    problems: list[str] = []
    for s in servers:
        name, st = s["metadata"]["name"], _status(s)
        exp = expected.get(name)
        if exp is None or exp.deleted or (s.get("spec") or {}).get("backend") != "kubevirt":
            continue
        if st.get("status") == "ERROR":
            continue
        want = sorted(exp.volumes)
        entries = [a for a in st.get("volumeAttachments") or [] if not a.get("root")]
        have = sorted(a["id"] for a in entries)
        if have != want:
            problems.append(f"{name}: volumes {have} attached, spec lists {want}")
        busy = [a["id"] for a in entries if a.get("state") != "attached" or a.get("pendingRestart")]
        if busy:
            problems.append(f"{name}: volumes {busy} not settled")
        vm = vms.get(name)
        if vm is not None:
            volumes = ((vm.get("spec") or {}).get("template") or {}).get("spec", {}).get("volumes") or []
            plugged = [v["persistentVolumeClaim"] for v in volumes if v.get("persistentVolumeClaim")]
            in_vm = sorted(p["claimName"] for p in plugged if p.get("hotpluggable"))
            if in_vm != want:
                problems.append(f"{name}: VM carries volumes {in_vm}, spec lists {want}")
    return problems


def check_images(images: Iterable[Mapping[str, Any]], made: Mapping[str, str | None]) -> list[str]:
    """Each snapshot a createImage made has ended: active, or killed with a reason; ``made`` maps
    each snapshot's name to its ServerAction's phase (an Image a refused createImage never made
    may be missing; a Succeeded one's must be active)."""
    found = {i["metadata"]["name"]: _status(i) for i in images}
    problems: list[str] = []
    for name, phase in made.items():
        st = found.get(name)
        if st is None:
            if phase == "Succeeded":
                problems.append(f"image {name}: its createImage Succeeded, the image is gone")
            continue
        status = st.get("status")
        if status not in IMAGE_ENDED:
            problems.append(f"image {name}: {status}")
        elif status == "killed" and not any(c.get("message") for c in st.get("conditions") or []):
            problems.append(f"image {name}: killed without a reason")
        elif phase == "Succeeded" and status != "active":
            problems.append(f"image {name}: {status}, its createImage Succeeded")
    return problems


def check_migrations(records: Iterable[Mapping[str, Any]], servers: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every Migration record has ended and belongs to a server; one still ``finished`` is its
    server's latest move, waiting in VERIFY_RESIZE."""
    found = {s["metadata"]["name"]: _status(s) for s in servers}
    problems: list[str] = []
    for r in records:
        name, spec, state = r["metadata"]["name"], r.get("spec") or {}, _status(r).get("status")
        st = found.get(spec.get("server", ""))
        if st is None:
            problems.append(f"migration {name}: of no server")
        elif state not in RECORD_ENDED:
            problems.append(f"migration {name}: {state}")
        elif state == "finished":
            latest = (st.get("migration") or {}).get("requestId") == spec.get("requestId")
            if not latest or st.get("status") not in ("VERIFY_RESIZE", "ERROR"):
                problems.append(
                    f"migration {name}: finished, its server {st.get('status')} (not confirmed or reverted)"
                )
    return problems
