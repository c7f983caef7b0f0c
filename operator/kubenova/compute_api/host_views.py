"""Pure translators of the hosts' side: Hosts as os-hypervisors and os-services, Aggregates as
os-aggregates, and ServerGroups as os-server-groups, to Nova's JSON for a microversion. No I/O
here; the routes of :mod:`kubenova.compute_api.hosts` and
:mod:`kubenova.compute_api.server_groups` call these.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from kubenova.compute_api.microversions import Version
from kubenova.compute_api.server_views import _usg
from kubenova.compute_api.views import (
    NAME_ANNOTATION,
    USER_ANNOTATION,
    Obj,
    _meta,
    _spec,
    _status,
    nova_name,
    timestamp,
    uid,
)


def stable_int(text: str) -> int:
    """A stable positive integer id for an object without one (Nova's ids before 2.53)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:7], 16) + 1


def hypervisor_view(obj: Obj, version: Version, *, detail: bool) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    uuid_ids = version.at_least("2.53")
    ident: Any = meta.get("uid") if uuid_ids else stable_int(str(meta.get("uid")))
    out: dict[str, Any] = {
        "id": ident,
        "hypervisor_hostname": status.get("hypervisorHostname") or meta.get("name"),
        "state": status.get("state") or "up",
        "status": status.get("status") or ("enabled" if spec.get("enabled", True) else "disabled"),
    }
    if not detail:
        return out
    out.update(
        {
            "hypervisor_type": "kubenova",
            "hypervisor_version": 1,
            "host_ip": status.get("hostIp"),
            "service": {
                "id": service_id(obj, version),
                "host": meta.get("name"),
                "disabled_reason": spec.get("disabledReason"),
            },
        }
    )
    if version.at_least("2.88"):
        out["uptime"] = None
    else:
        vcpus, vused = status.get("vcpus", 0) or 0, status.get("vcpusUsed", 0) or 0
        mem, mused = status.get("memoryMb", 0) or 0, status.get("memoryMbUsed", 0) or 0
        disk, dused = status.get("localGb", 0) or 0, status.get("localGbUsed", 0) or 0
        out.update(
            {
                "vcpus": vcpus,
                "vcpus_used": vused,
                "memory_mb": mem,
                "memory_mb_used": mused,
                "free_ram_mb": mem - mused,
                "local_gb": disk,
                "local_gb_used": dused,
                "free_disk_gb": disk - dused,
                "running_vms": status.get("runningVms", 0) or 0,
                "current_workload": 0,
                "disk_available_least": disk - dused,
                "cpu_info": {} if version.at_least("2.28") else "{}",  # a JSON object from 2.28
            }
        )
    return out


def service_id(obj: Obj, version: Version) -> Any:
    uid_ = str(_meta(obj).get("uid"))
    if version.at_least("2.53"):
        return str(uuid_from(uid_ + "/service"))
    return stable_int(uid_ + "/service")


def uuid_from(text: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, text))


def service_view(obj: Obj, version: Version) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    out: dict[str, Any] = {
        "id": service_id(obj, version),
        "binary": "nova-compute",
        "host": meta.get("name"),
        "zone": status.get("availabilityZone") or "nova",
        "status": status.get("status") or ("enabled" if spec.get("enabled", True) else "disabled"),
        "state": status.get("state") or "up",
        "updated_at": _usg(timestamp(meta.get("creationTimestamp"))),
        "disabled_reason": spec.get("disabledReason"),
    }
    if version.at_least("2.11"):
        out["forced_down"] = bool(spec.get("forcedDown"))
    return out


def aggregate_view(obj: Obj, version: Version) -> dict[str, Any]:
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    metadata = dict(spec.get("metadata") or {})
    # The declared zone first: Nova answers a change at once, the status follows it.
    zone = spec.get("availabilityZone") or status.get("availabilityZone")
    if zone:
        metadata.setdefault("availability_zone", zone)
    out: dict[str, Any] = {
        "id": stable_int(str(meta.get("uid"))),
        "name": nova_name(obj),
        "availability_zone": zone,
        "hosts": list(status.get("hosts") or spec.get("hosts") or []),
        "metadata": metadata,
        "created_at": _usg(timestamp(meta.get("creationTimestamp"))),
        "updated_at": None,
        "deleted": False,
        "deleted_at": None,
    }
    if version.at_least("2.41"):
        out["uuid"] = meta.get("uid")
    return out


def server_group_view(obj: Obj, version: Version, servers: Sequence[Obj] = ()) -> dict[str, Any]:
    """A server group; its members are those the operator recorded and ``servers`` that name
    the group in their hints (Nova adds a member when the server is created, before placing)."""
    meta, spec, status = _meta(obj), _spec(obj), _status(obj)
    members = [m.get("uid") for m in status.get("members") or [] if m.get("uid")]
    for s in servers:
        hinted = (_spec(s).get("schedulerHints") or {}).get("group") == meta.get("name")
        if hinted and _meta(s).get("namespace") == meta.get("namespace") and uid(s) not in members:
            members.append(uid(s))
    out: dict[str, Any] = {
        "id": uid(obj),
        "name": (meta.get("annotations") or {}).get(NAME_ANNOTATION) or meta.get("name"),
        "members": members,
        "metadata": {},
    }
    policy = spec.get("policy", "affinity")
    if version.at_least("2.64"):
        out["policy"] = policy
        rules: dict[str, Any] = {}
        if spec.get("maxServerPerHost") and policy == "anti-affinity":
            rules["max_server_per_host"] = spec["maxServerPerHost"]
        out["rules"] = rules
        del out["metadata"]
    else:
        out["policies"] = [policy]
    if version.at_least("2.13"):
        out["project_id"] = meta.get("namespace")
        out["user_id"] = meta.get("annotations", {}).get(USER_ANNOTATION, "")
    return out
