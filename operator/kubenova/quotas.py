"""Nova's quotas, pure: limits in effect, usage, the check and its messages, and the Quota status.

A namespace is a Nova project. Its limits are its Quota's spec (one per namespace, named
``default``), where a resource left out keeps the operator's default (Nova's, unless configured:
:data:`NOVA_DEFAULTS`); -1 is unlimited.

What counts, as Nova counts it since Pike (usage counted from the objects themselves, no
reservations table): a Server counts once it has been accepted, i.e. once its status carries the
flavor it was admitted with, whatever its state (a server in ERROR after "No valid host" still
counts, as it does in Nova, until deleted). A Server refused for quota never gets a flavor in
status, so it never counts. ``cores`` and ``ram`` come from that embedded flavor.
``metadata_items`` and ``server_group_members`` are limits per object; like Nova's
``os-quota-sets/detail``, their ``inUse`` is 0.

Used by the admission webhook (refuse what is certainly over) and by the Server handler (check
again under the scheduler's lock, so concurrent creates can never exceed a limit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from kubenova.nova.states import VmState

NOVA_DEFAULTS: Mapping[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "server_groups": 10,
    "server_group_members": 10,
}
RESOURCES = tuple(NOVA_DEFAULTS)
UNLIMITED = -1


@dataclasses.dataclass(frozen=True)
class ServerUsage:
    """What one accepted Server holds against its namespace's quota."""

    name: str
    cores: int
    ram: int


@dataclasses.dataclass(frozen=True)
class Usage:
    """A namespace's usage of each counted resource."""

    instances: int = 0
    cores: int = 0
    ram: int = 0
    key_pairs: int = 0
    server_groups: int = 0

    def of(self, resource: str) -> int:
        value: int = getattr(self, resource, 0)
        return value

    @classmethod
    def count(cls, servers: Iterable[ServerUsage], *, key_pairs: int = 0, server_groups: int = 0) -> Usage:
        seen = {s.name: s for s in servers}  # one entry per server, whatever the source
        return cls(
            instances=len(seen),
            cores=sum(s.cores for s in seen.values()),
            ram=sum(s.ram for s in seen.values()),
            key_pairs=key_pairs,
            server_groups=server_groups,
        )


def spec_field(resource: str) -> str:
    """The Quota spec's field for a Nova resource name (``key_pairs`` → ``keyPairs``)."""
    head, *rest = resource.split("_")
    return head + "".join(part.title() for part in rest)


def limits(spec: Mapping[str, Any] | None, defaults: Mapping[str, int] = NOVA_DEFAULTS) -> dict[str, int]:
    """The limit in effect for each resource (by Nova's name): the Quota spec's, else the default."""
    spec = spec or {}
    out = {}
    for r in RESOURCES:
        given = spec.get(spec_field(r))
        out[r] = int(given) if given is not None else int(defaults.get(r, UNLIMITED))
    return out


def server_usage(name: str, status: Mapping[str, Any]) -> ServerUsage | None:
    """What a Server holds, from its status: nothing until it was accepted with a flavor."""
    flavor = status.get("flavor")
    if not flavor:
        return None
    return ServerUsage(name, int(flavor.get("vcpus", 0)), int(flavor.get("ram", 0)))


def refused(status: Mapping[str, Any]) -> bool:
    """Whether a Server was refused for quota before it was accepted: it holds nothing, and is
    accepted again when its namespace has room (a deleted server, a raised limit)."""
    fault = status.get("fault") or {}
    return status.get("vmState") == VmState.ERROR and not status.get("flavor") and fault.get("code") == 403


def over_quota(requested: Mapping[str, int], usage: Usage, limit: Mapping[str, int]) -> str | None:
    """Nova's TooManyInstances message if ``requested`` on top of ``usage`` passes a limit, else None.

    As Nova does, every resource over is named, and the numbers are those of the first:
    "Quota exceeded for cores: Requested 2, but already used 19 of 20 cores".
    """
    overs = [
        r for r, n in requested.items() if n > 0 and limit.get(r, UNLIMITED) != UNLIMITED and usage.of(r) + n > limit[r]
    ]
    if not overs:
        return None
    first = overs[0]
    names = ", ".join(overs)
    return (
        f"Quota exceeded for {names}: Requested {requested[first]}, but already used {usage.of(first)} "
        f"of {limit[first]} {names}"
    )


def server_request(vcpus: int, ram: int, *, instances: int = 1) -> dict[str, int]:
    return {"instances": instances, "cores": vcpus * instances, "ram": ram * instances}


def resize_request(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, int]:
    """A resize holds the difference (Nova counts the larger flavor while it is unconfirmed)."""
    return {
        "cores": max(0, int(new.get("vcpus", 0)) - int(old.get("vcpus", 0))),
        "ram": max(0, int(new.get("ram", 0)) - int(old.get("ram", 0))),
    }


def metadata_problem(metadata: Mapping[str, Any] | None, limit: Mapping[str, int]) -> str | None:
    allowed = limit.get("metadata_items", UNLIMITED)
    if allowed != UNLIMITED and len(metadata or {}) > allowed:
        return f"Maximum number of metadata items exceeds {allowed}"
    return None


def keypair_problem(usage: Usage, limit: Mapping[str, int]) -> str | None:
    allowed = limit.get("key_pairs", UNLIMITED)
    if allowed != UNLIMITED and usage.key_pairs + 1 > allowed:
        return "Quota exceeded, too many key pairs."
    return None


def server_group_problem(usage: Usage, limit: Mapping[str, int]) -> str | None:
    allowed = limit.get("server_groups", UNLIMITED)
    if allowed != UNLIMITED and usage.server_groups + 1 > allowed:
        return "Quota exceeded, too many server groups."
    return None


def group_members_problem(members: int, limit: Mapping[str, int]) -> str | None:
    """``members``: the group's servers other than the one asking to join."""
    allowed = limit.get("server_group_members", UNLIMITED)
    if allowed != UNLIMITED and members + 1 > allowed:
        return "Quota exceeded, too many servers in group"
    return None


def status(limit: Mapping[str, int], usage: Usage) -> dict[str, Any]:
    """The Quota's status fields: ``resources`` as os-quota-sets/detail, ``absolute`` as /limits."""
    return {
        "resources": {r: {"limit": limit[r], "inUse": usage.of(r), "reserved": 0} for r in RESOURCES},
        "absolute": {
            "maxTotalInstances": limit["instances"],
            "totalInstancesUsed": usage.instances,
            "maxTotalCores": limit["cores"],
            "totalCoresUsed": usage.cores,
            "maxTotalRAMSize": limit["ram"],
            "totalRAMUsed": usage.ram,
            "maxTotalKeypairs": limit["key_pairs"],
            "maxServerMeta": limit["metadata_items"],
            "maxServerGroups": limit["server_groups"],
            "totalServerGroupsUsed": usage.server_groups,
            "maxServerGroupMembers": limit["server_group_members"],
        },
    }
